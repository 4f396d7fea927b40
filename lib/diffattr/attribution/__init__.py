"""Floor 3, attribution: the subsets, the matrix and what is fitted and scored on it (datamodels,
estimators, LDS, budget, counterfactuals, the cheap baselines).
"""
