"""Model governance: evaluation sets and runs, comparing their results, promotion to deployed under
a two-person rule, model cards, incidents, quarantine and drift (one module per concern)."""
