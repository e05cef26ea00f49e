"""What a command writes besides its result: exit codes, the name of standard input, a heartbeat and
progress on stderr (so that long work is never silent)."""
from __future__ import annotations

import contextlib
import sys


EXIT_OK, EXIT_FOUND, EXIT_BAD_INPUT = 0, 1, 2
#: Exit codes of a run cut short: interrupted (Ctrl-C, as a shell reports SIGINT), or its output not written.
EXIT_INTERRUPTED, EXIT_FAILED = 130, 3

#: How standard input is named in messages.
STDIN_NAME = "<stdin>"


def _name(file: str) -> str:
    return STDIN_NAME if file == "-" else file



class _Heartbeat:
    """While a command runs, a line on stderr every two seconds, from the second second on, whenever nothing
    else has been said for two seconds: no command is silent longer than that. ``doing`` says what the
    work is at the moment; every progress line goes through :meth:`say`."""

    SILENCE_SECONDS = 2.0

    def __init__(self) -> None:
        import threading

        self.what, self.beats, self.started, self.last_said = "working", 0, 0.0, 0.0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def say(self, text: str) -> None:
        import time

        with self.lock:
            print(f"symbackprop: {text}", file=sys.stderr, flush=True)
            self.last_said = time.monotonic()

    def _beat(self) -> None:
        import time

        while not self.stop.wait(0.25):
            now = time.monotonic()
            if now - self.last_said >= self.SILENCE_SECONDS:
                self.beats += 1
                self.say(f"{self.what} ({now - self.started:.0f} s)")

    @contextlib.contextmanager
    def running(self, command: str):
        import threading
        import time

        self.what, self.beats, self.started = f"{command}: working", 0, time.monotonic()
        self.last_said = self.started
        self.stop.clear()
        thread = threading.Thread(target=self._beat, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            thread.join()

    @contextlib.contextmanager
    def doing(self, what: str):
        before, self.what = self.what, what
        try:
            yield self
        finally:
            self.what = before


_HEARTBEAT = _Heartbeat()


class _Progress:
    """Progress lines on stderr, only for work that has already taken more than two seconds."""

    AFTER_SECONDS, EVERY_SECONDS = 2.0, 1.0

    def __init__(self, started: float, total: int, noun: str = "gradients", verb: str = "written") -> None:
        self.started, self.total, self.last = started, total, started
        self.noun, self.verb = noun, verb
        self.shown = False

    def _due(self) -> bool:
        import time

        now = time.monotonic()
        if now - self.started < self.AFTER_SECONDS or now - self.last < self.EVERY_SECONDS:
            return False
        self.last = now
        return True

    def say(self, what: str) -> None:
        if self._due():
            self.shown = True
            _HEARTBEAT.say(f"{what} ({self.last - self.started:.1f} s)")

    def maybe(self, describe) -> None:
        """Say ``describe()`` when a line is due (the text is made only then: this is called often)."""
        if self._due():
            self.shown = True
            _HEARTBEAT.say(f"{describe()} ({self.last - self.started:.1f} s)")

    def tick(self, done: int, every: int = 256) -> None:
        if done > 0 and done % every == 0:
            self.say(f"{done:,}/{self.total:,} {self.noun} {self.verb}")

    def done(self) -> None:
        if self.shown:
            import time

            _HEARTBEAT.say(f"{self.total:,} {self.noun} in {time.monotonic() - self.started:.1f} s")
