"""What a reader sees: text, LaTeX, Markdown, JSON and SVG of results the engine computed. Printers
never differentiate: they format derivations, checks, training runs and audits handed to them.
"""
