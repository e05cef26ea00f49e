"""Mutation tests: correct worked examples audit clean; an injected mistake is found and named."""
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from symbackprop.audit import audit
from symbackprop.numbers import written_unit
from symbackprop.audit.claims import claims_from_document
from symbackprop.frontends.dense import build_graph
from symbackprop.frontends.loader import network_from_mapping

from .author import Author

HIDDEN = ["sigmoid", "tanh", "linear", "softplus", "leaky_relu"]
OUTPUT = {"half_sse": ["sigmoid", "linear"], "mse": ["sigmoid", "tanh"], "sse": ["sigmoid"],
          "cross_entropy": ["softmax"], "binary_cross_entropy": ["sigmoid"]}
decimals = st.integers(-9, 9).filter(lambda k: k != 0).map(lambda k: f"{k / 10:.1f}")


@st.composite
def tutorials(draw):
    """A small network as tutorials have them: inputs, one hidden layer, an output layer."""
    loss = draw(st.sampled_from(sorted(OUTPUT)))
    n_in, n_hidden = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    n_out = draw(st.integers(2, 3)) if loss == "cross_entropy" else draw(st.integers(1, 2))
    hidden = draw(st.sampled_from(HIDDEN))
    output = draw(st.sampled_from(OUTPUT[loss]))

    def layer(name, units, n_from, activation, bias_prefix):
        spec = {"name": name, "units": units, "activation": activation,
                "weights": [[draw(decimals) for _ in units] for _ in range(n_from)]}
        mode = draw(st.sampled_from(["shared", "per_unit", "none"]))
        if mode == "shared":
            spec["bias"] = draw(decimals)
            spec["bias_names"] = bias_prefix
        elif mode == "per_unit":
            spec["bias"] = [draw(decimals) for _ in units]
        return spec

    if loss == "cross_entropy":
        hot = draw(st.integers(0, n_out - 1))
        targets = ["1" if j == hot else "0" for j in range(n_out)]
    elif loss == "binary_cross_entropy":
        targets = [draw(st.sampled_from(["0", "1", "0.25"])) for _ in range(n_out)]
    else:
        targets = [draw(st.sampled_from(["0.01", "0.99", "0.5", "1", "0"])) for _ in range(n_out)]
    return {
        "network": {"inputs": [f"i{k + 1}" for k in range(n_in)], "layers": [
            layer("hidden", [f"h{k + 1}" for k in range(n_hidden)], n_in, hidden, "b1"),
            layer("output", [f"o{k + 1}" for k in range(n_out)], n_hidden, output, "b2")]},
        "loss": {"kind": loss, "targets": targets},
        "data": {"inputs": [draw(decimals) for _ in range(n_in)]},
        "training": {"learning_rate": draw(st.sampled_from(["0.5", "0.1", "0.05"]))},
    }


def run_audit(document, claims):
    network = network_from_mapping(document)
    graph = build_graph(network)
    parsed = claims_from_document({**document, "claims": claims}, graph)
    return audit(graph, parsed)


SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@settings(max_examples=200, **SETTINGS)
@given(tutorials(), st.integers(3, 9), st.sampled_from(["places", "significant"]),
       st.sampled_from([None, "same", 2, 3, 4]), st.sampled_from([0.0, 0.3]), st.integers(0, 1000))
def test_correct_worked_examples_audit_clean(document, digits, style, inner, skip, seed):
    if inner == "same":
        inner = digits
    elif inner is not None:
        digits = inner  # an author who rounds to 2-4 digits writes numbers at that precision too
    network = network_from_mapping(document)
    claims = Author(network, digits, style, inner, skip=skip, seed=seed).work()
    report = run_audit(document, claims)
    bad = [(v.index, v.claim.quantity, v.claim.written, float(v.exact), v.verdict) for v in report.verdicts
           if v.verdict in ("error", "propagated")]
    assert not bad, bad


def _applicable(document, digits, style):
    network = network_from_mapping(document)
    return network, Author(network, digits, style).options


@settings(max_examples=int(__import__('os').environ.get('MUTATIONS', 150)), **SETTINGS)
@given(tutorials(), st.integers(4, 8), st.sampled_from(["places", "significant"]), st.data())
def test_an_injected_mistake_is_an_error_named_at_its_step_and_propagates(document, digits, style, data):
    network = network_from_mapping(document)
    dry = Author(network, digits, style)
    correct = dry.work()
    # Choose the mistake first, so that every model of the library is drawn as often, then where.
    mistake = data.draw(st.sampled_from(sorted({name for _, name in dry.options})))
    index = data.draw(st.sampled_from([i for i, name in dry.options if name == mistake]))
    author = Author(network, digits, style, inject=(index, mistake))
    try:
        claims = author.work()
    except (TypeError, ValueError, ZeroDivisionError):
        event("skipped: out of the loss's domain")
        return  # the mistake took the author's numbers out of the loss's domain (ln of a negative)
    written, right = Fraction(claims[index]["value"]), Fraction(correct[index]["value"])
    unit = max(written_unit(claims[index]["value"]), written_unit(correct[index]["value"]))
    if mistake != "truncation" and abs(written - right) <= 30 * unit:
        event("skipped: changes nothing visible")
        return  # this mistake changes nothing visible here (a sign of zero, a tenfold zero)
    event(f"injected {mistake}")
    report = run_audit(document, claims)
    verdict = report.verdicts[index]
    names = {part for d in verdict.diagnoses for part in d.mistake.split("+")}
    if mistake == "truncation":
        # A cut value can still be the right value rounded (the author's own numbers had drifted, or sat
        # on a tie): truncation is never an error, and is named when it is what explains the number.
        assert verdict.verdict in ("ok", "rounding"), verdict
        event("truncation named" if "truncation" in names else "truncation explained as plain rounding")
        return
    assert verdict.verdict == "error", (mistake, verdict.claim.quantity, verdict)
    assert mistake in names, (mistake, verdict.claim.quantity, claims[index]["value"], [d.mistake for d in verdict.diagnoses])
    for earlier in report.verdicts[:index]:
        assert earlier.verdict in ("ok", "rounding"), earlier
    for later in report.verdicts[index + 1:]:
        assert later.verdict != "error" or later.claim.key == verdict.claim.key, (later.claim.quantity, later)
        if later.verdict == "propagated":
            assert later.source == index


SOFTMAX_TUTORIAL = {
    "network": {"inputs": ["i1", "i2"], "layers": [
        {"name": "hidden", "units": ["h1", "h2"], "activation": "sigmoid",
         "weights": [["0.15", "0.25"], ["0.20", "0.30"]], "bias": "0.35", "bias_names": "b1"},
        {"name": "output", "units": ["o1", "o2", "o3"], "activation": "softmax",
         "weights": [["0.40", "0.50", "-0.3"], ["0.45", "0.55", "0.2"]], "bias": "0.60", "bias_names": "b2"}]},
    "loss": {"kind": "cross_entropy", "targets": ["0", "1", "0"]},
    "data": {"inputs": ["0.05", "0.10"]},
    "training": {"learning_rate": "0.5"},
}
SQUARED_TUTORIAL = {
    "network": {"inputs": ["i1", "i2"], "layers": [
        {"name": "hidden", "units": ["h1", "h2"], "activation": "sigmoid",
         "weights": [["0.15", "0.25"], ["0.20", "0.30"]], "bias": "0.35", "bias_names": "b1"},
        {"name": "output", "units": ["o1", "o2"], "activation": "sigmoid",
         "weights": [["0.40", "0.50"], ["0.45", "0.55"]], "bias": "0.60", "bias_names": "b2"}]},
    "loss": {"kind": "half_sse", "targets": ["0.01", "0.99"]},
    "data": {"inputs": ["0.05", "0.10"]},
    "training": {"learning_rate": "0.5"},
}

BINARY_TUTORIAL = {
    "network": {"inputs": ["i1", "i2"], "layers": [
        {"name": "hidden", "units": ["h1", "h2"], "activation": "tanh",
         "weights": [["0.15", "0.25"], ["0.20", "0.30"]], "bias": "0.35", "bias_names": "b1"},
        {"name": "output", "units": ["o1", "o2"], "activation": "sigmoid",
         "weights": [["0.40", "-0.50"], ["0.45", "0.55"]], "bias": "0.60", "bias_names": "b2"}]},
    "loss": {"kind": "binary_cross_entropy", "targets": ["1", "0"]},
    "data": {"inputs": ["0.05", "0.10"]},
    "training": {"learning_rate": "0.5"},
}


LINEAR_TUTORIAL = {
    "network": {"inputs": ["i1", "i2"], "layers": [
        {"name": "hidden", "units": ["h1", "h2"], "activation": "tanh",
         "weights": [["0.15", "0.25"], ["0.20", "0.30"]], "bias": "0.35", "bias_names": "b1"},
        {"name": "output", "units": ["o1", "o2"], "activation": "linear",
         "weights": [["0.40", "0.50"], ["-0.45", "0.55"]], "bias": "0.60", "bias_names": "b2"}]},
    "loss": {"kind": "half_sse", "targets": ["0.01", "0.99"]},
    "data": {"inputs": ["0.05", "0.10"]},
    "training": {"learning_rate": "0.5"},
}


def _every_injection():
    for label, document in (("softmax", SOFTMAX_TUTORIAL), ("squared", SQUARED_TUTORIAL), ("binary", BINARY_TUTORIAL),
                            ("linear", LINEAR_TUTORIAL)):
        network = network_from_mapping(document)
        author = Author(network, 6, "places")
        author.work()
        options = author.options
        for mistake in sorted({name for _, name in options} - {"truncation"}):
            # Every claim where the author could make this mistake, up to four of them.
            indexes = [i for i, name in options if name == mistake][:4]
            yield pytest.param(document, mistake, indexes, id=f"{label}-{mistake}")


@pytest.mark.parametrize("document,mistake,indexes", list(_every_injection()))
def test_every_mistake_of_the_library_is_found_and_named(document, mistake, indexes):
    network = network_from_mapping(document)
    correct = Author(network, 6, "places").work()
    checked = 0
    for index in indexes:
        claims = Author(network, 6, "places", inject=(index, mistake)).work()
        if abs(Fraction(claims[index]["value"]) - Fraction(correct[index]["value"])) <= Fraction(30, 10**6):
            continue
        report = run_audit(document, claims)
        verdict = report.verdicts[index]
        names = {part for d in verdict.diagnoses for part in d.mistake.split("+")}
        assert verdict.verdict == "error" and mistake in names, (index, claims[index], verdict.verdict, names)
        assert all(v.verdict in ("ok", "rounding") for v in report.verdicts[:index])
        for later in report.verdicts[index + 1:]:
            assert later.verdict != "error", (later.claim.quantity, later.verdict, later.diagnoses)
            if later.verdict == "propagated":
                assert later.source == index
        moved = [i for i in range(index + 1, len(claims))
                 if abs(Fraction(claims[i]["value"]) - Fraction(correct[i]["value"])) > Fraction(30, 10**6)]
        if moved:  # later numbers the mistake visibly changed: the auditor must trace them back to it
            assert any(report.verdicts[i].verdict == "propagated" for i in moved), [report.verdicts[i] for i in moved]
        checked += 1
    assert checked, "the mistake never changed a written number"


def test_the_ids_of_the_issue_are_all_in_the_library():
    from symbackprop.audit.mistakes import MISTAKE_IDS

    required = {"softmax_without_exp", "softmax_diagonal_only", "dropped_paths", "log10_loss", "binary_ce_for_softmax",
                "sign_error", "wrong_learning_rate", "updated_weight_used", "wrong_weight", "wrong_bias", "factor_two",
                "decimal_slip", "digit_typo", "truncation", "bias_not_updated", "mean_vs_sum",
                "logits_for_outputs", "activation_derivative_twice", "term_slip"}
    assert required <= set(MISTAKE_IDS)
    injectable = set()
    for document in (SOFTMAX_TUTORIAL, SQUARED_TUTORIAL, BINARY_TUTORIAL):
        author = Author(network_from_mapping(document), 6, "places")
        author.work()
        injectable |= {name for _, name in author.options}
    assert required - {"wrong_weight", "mean_vs_sum"} <= injectable, required - injectable


# ---- several mistakes in one worked example ------------------------------------------------
HABITS_FORWARD = ("softmax_without_exp", "other_layer_weights", "activation_not_applied", "activation_where_linear")
HABITS_LOSS = ("log10_loss", "binary_ce_for_softmax", "factor_two", "mean_vs_sum")
HABITS_BACKWARD = ("dropped_paths", "softmax_diagonal_only", "delta_without_derivative", "derivative_wrong_argument",
                   "updated_weight_used", "logits_for_outputs", "activation_derivative_twice", "bias_not_updated",
                   "wrong_learning_rate")
#: Mistakes that, with every activation left out (out = net), give the right number for the steps they change:
#: ∂out/∂net = 1 is then the right derivative, σ′ at out is σ′ at net, and net − t is out − t.
COINCIDING = ({"activation_not_applied", "delta_without_derivative"}, {"activation_not_applied", "derivative_wrong_argument"},
              {"activation_not_applied", "logits_for_outputs"})
def _far(a: str, b: str) -> bool:
    return abs(Fraction(a) - Fraction(b)) > Fraction(30, 10**6)


def _habit_combinations():
    """A forward, a loss and a backward mistake of method, each made everywhere it applies (every third
    combination of each tutorial, so that the test stays a minute long)."""
    import itertools

    for label, document in (("softmax", SOFTMAX_TUTORIAL), ("squared", SQUARED_TUTORIAL),
                            ("binary", BINARY_TUTORIAL), ("linear", LINEAR_TUTORIAL)):
        author = Author(network_from_mapping(document), 6)
        author.work()
        have = {name for _, name in author.options}
        groups = [[name for name in group if name in have] for group in (HABITS_FORWARD, HABITS_LOSS, HABITS_BACKWARD)]
        combos = [set(c) for c in itertools.product(*groups) if not any(pair <= set(c) for pair in COINCIDING)]
        for number, combo in enumerate(combos):
            try:
                Author(network_from_mapping(document), 6, skip=0.3, seed=len(combo), habits=frozenset(combo)).work()
            except (TypeError, ValueError, ZeroDivisionError):
                continue  # the mistakes took the author's numbers out of the loss's domain (ln of a negative)
            if number % 3 == 0:
                yield pytest.param(document, frozenset(combo), id=f"{label}-{'-'.join(sorted(combo))}")


@pytest.mark.parametrize("document,habits", list(_habit_combinations()))
def test_each_of_several_mistakes_is_named_at_its_first_claim(document, habits):
    """A simulated author who holds two or three wrong rules (log base 10 in the loss, the first layer's
    weights in the second, dropped paths in a δ, ...) and leaves some numbers unwritten: at the first claim
    where each rule shows, the claim is an error and that mistake is named."""
    network = network_from_mapping(document)
    seed = len(habits)
    author = Author(network, 6, skip=0.3, seed=seed, habits=habits)
    claims = author.work()
    correct = Author(network, 6, skip=0.3, seed=seed).work()  # the same numbers written, none wrong
    report = run_audit(document, claims)
    checked = 0
    for habit in habits:
        without = Author(network, 6, skip=0.3, seed=seed, habits=habits - {habit}).work()
        first = next((i for i, (c, w, r) in enumerate(zip(claims, without, correct))
                      if (i, habit) in author.options and _far(c["value"], w["value"]) and _far(c["value"], r["value"])),
                     None)
        if first is None:
            continue  # this rule changes no written number here
        verdict = report.verdicts[first]
        names = {part for d in verdict.diagnoses for part in d.mistake.split("+")}
        assert verdict.verdict == "error" and habit in names, (habit, claims[first], verdict.verdict, names)
        checked += 1
    assert checked >= 2, "fewer than two of the mistakes showed"
