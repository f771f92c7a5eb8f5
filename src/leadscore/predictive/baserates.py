"""Base rates across time: what each labelled period of the training part converted at, against the mean
probability the model gives the population it will score (and that population's actual rate, when the
outcomes are known, as for held-out rows).

Calibration is fitted on the most recent labelled period, so it can only know the rates seen up to then.
When the mean predicted probability for the scoring population lies far outside every labelled period's
rate, the model is extrapolating (a feature beyond its training range carries the scores along) and its
probabilities are a guess in either direction: on the bank data by time the scorecard predicts 62% for a
period that converts at 31%, after labelled periods of 3-13%. The report says so, so that the first
outcomes of the new period are used to recalibrate (`leadscore recalibrate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

PERIODS = 5  # consecutive periods of the training part, in time order
BEYOND = 1.5  # ratio beyond the highest (or below the lowest) labelled rate from which predictions extrapolate


@dataclass
class BaseRates:
    periods: list[dict[str, Any]]  # rows, positives and rate of each period of the training part, oldest first
    latest: float  # rate of the most recent labelled period (where the calibration was fitted)
    predicted: float | None  # mean calibrated probability on the scoring population
    actual: float | None = None  # that population's rate, when its outcomes are known (held-out rows)

    @property
    def extrapolated(self) -> bool:
        if self.predicted is None or not self.periods:
            return False
        rates = [p["rate"] for p in self.periods]
        return self.predicted > BEYOND * max(rates) or self.predicted * BEYOND < min(rates)

    def describe(self) -> str:
        trend = ", ".join(f"{p['rate']:.1%}" for p in self.periods)
        text = f"base rate over the training part by period (oldest first): {trend}; latest labelled {self.latest:.1%}"
        if self.predicted is not None:
            text += f"; mean predicted for the scoring population {self.predicted:.1%}"
        if self.actual is not None:
            text += f" (actual {self.actual:.1%})"
        return text

    def warning(self) -> str | None:
        if not self.extrapolated or self.predicted is None:
            return None
        rates = [p["rate"] for p in self.periods]
        return (
            f"the mean predicted probability for the scoring population ({self.predicted:.1%}) lies outside "
            f"every labelled period of the training data ({min(rates):.1%} to {max(rates):.1%}): the model "
            "extrapolates, and no outcome has checked its probabilities there; recalibrate on the first "
            "outcomes of the new period (leadscore recalibrate)"
        )

    def summary(self) -> dict[str, Any]:
        return {
            "training_periods": self.periods,
            "latest_labelled": self.latest,
            "predicted_scoring": self.predicted,
            "actual_scoring": self.actual,
            "extrapolated": self.extrapolated,
        }


def base_rates(
    y_train: np.ndarray, latest: float, predicted: np.ndarray | None, actual: np.ndarray | None = None
) -> BaseRates:
    """`y_train`: the training part's outcomes in time order; `predicted`: calibrated probabilities for the
    scoring population; `actual`: its outcomes, when known."""
    periods = [
        {"rows": len(part), "positives": int(part.sum()), "rate": float(part.mean())}
        for part in np.array_split(np.asarray(y_train), PERIODS)
        if len(part)
    ]
    mean = None if predicted is None or not len(predicted) else float(np.mean(predicted))
    rate = None if actual is None or not len(actual) else float(np.mean(actual))
    return BaseRates(periods, float(latest), mean, rate)
