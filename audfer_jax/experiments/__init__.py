"""Experiments as commands: folds, sweeps, paired comparisons, evaluation,
features and reports (`python -m audfer_jax.experiments --help`)."""
