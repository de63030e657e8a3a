"""Model governance: comparing evaluation results, promotion to deployed under a two-person rule,
model cards, incidents (one module per concern)."""
