"""Model governance: evaluation sets and runs, promotion, incidents, quarantine (one module per
concern)."""
