"""Realistic synthetic leads and events, with signal: `generate` writes files, `sample` returns objects.

A hidden propensity (see `propensity`) drives both behaviour and sales outcomes, so that models and
analytics built on the data find what real data would show them. Output is deterministic per seed.
"""

from leadscore.generate.api import GENERATOR_VERSION, Summary, generate, sample
from leadscore.generate.errors import GenerateError
from leadscore.generate.options import KINDS

__all__ = ["GENERATOR_VERSION", "KINDS", "GenerateError", "Summary", "generate", "sample"]
