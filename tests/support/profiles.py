"""Hypothesis profiles: derandomised with a fixed budget on CI, deeper and random on a developer's machine.

`tests/conftest.py` loads one before any test module is imported: "ci" when the environment has
CI=true, else the one named by HYPOTHESIS_PROFILE, else "dev". A property test states its budget
relative to CI's (`examples(60)`: 60 examples on CI), and each profile scales it:

- ci:   derandomised (the same examples every run), the stated budget;
- dev:  the local default of `make test`: new random examples each run, twice the budget;
- fast: `make test-fast`: random, half the budget (the small property tests of the quick loop);
- deep: ten times the budget, for a long local hunt: `HYPOTHESIS_PROFILE=deep make test`.
"""

from __future__ import annotations

import os

from hypothesis import settings

SCALE = {"ci": 1.0, "dev": 2.0, "fast": 0.5, "deep": 10.0}


def register() -> str:
    """Register the profiles and load the one this run uses; returns its name."""
    settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
    settings.register_profile("dev", deadline=None)
    settings.register_profile("fast", deadline=None)
    settings.register_profile("deep", deadline=None)
    if os.environ.get("CI", "").lower() == "true":
        name = "ci"
    else:
        name = os.environ.get("HYPOTHESIS_PROFILE", "dev")
        if name not in SCALE:
            raise ValueError(f"HYPOTHESIS_PROFILE={name!r}: the profiles are {', '.join(SCALE)}")
    settings.load_profile(name)
    return name


def profile() -> str:
    return "ci" if os.environ.get("CI", "").lower() == "true" else os.environ.get("HYPOTHESIS_PROFILE", "dev")


def examples(on_ci: int) -> int:
    """A test's example budget under the loaded profile, given what it runs on CI."""
    return max(1, round(on_ci * SCALE[profile()]))
