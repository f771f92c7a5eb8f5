"""leadscore: explainable lead scoring and lead management."""

__version__ = "0.1.0"
