"""Floor 2, evaluation: what a model's generated images score (the classifier, the behaviours)."""
