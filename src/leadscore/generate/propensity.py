"""The hidden propensity: what makes a generated lead convert.

Every lead gets two latent values that are never written out: `fit` (attribute effects plus noise, so
attributes carry signal without deciding the outcome) and `intent` (independent standard normal). Each
step of the journey happens with probability sigmoid(a + b * fit + c * intent). The manifest carries
this description, never the per-lead values, so analytics can be checked against the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from leadscore.generate.rand import sigmoid

FIT_NOISE = 0.4


@dataclass(frozen=True)
class Step:
    """One journey step: taken with probability sigmoid(intercept + fit * fit + intent * intent)."""

    intercept: float
    fit: float
    intent: float

    def p(self, fit: np.ndarray, intent: np.ndarray) -> np.ndarray:
        return sigmoid(self.intercept + self.fit * fit + self.intent * intent)

    def describe(self) -> str:
        return f"sigmoid({self.intercept:+g} {self.fit:+g}*fit {self.intent:+g}*intent)"


B2B_FIT = {
    "seniority": {"c-level": 0.9, "vp": 0.8, "director": 0.6, "manager": 0.2, "individual": -0.5},
    "department": {"marketing": 0.5, "sales": 0.4, "it": 0.2, "finance": -0.1, "operations": 0.0, "hr": -0.5,
                   "engineering": -0.1},
    "industry": {"software": 0.6, "manufacturing": 0.1, "finance": 0.3, "healthcare": 0.0, "retail": -0.1,
                 "education": -0.6, "logistics": 0.2, "government": -0.5, "consulting": 0.3},
    "region": {"benelux": 0.3, "nordics": 0.3, "dach": 0.1, "uk": 0.0, "france": -0.1, "us": -0.3,
               "other": -0.3},
}
# Mid-sized companies are the sweet spot (DOMAIN.md example 1): lower bound of the band -> effect.
B2B_SIZE_FIT = ((1, -0.9), (10, -0.2), (50, 0.5), (100, 0.8), (200, 0.5), (1000, 0.2), (5000, -0.1))
B2B_STEPS = {
    "reach_mofu": Step(-0.2, 0.4, 1.0),
    "reach_bofu": Step(-0.9, 0.5, 1.1),
    "hand_over": Step(-0.4, 0.7, 0.9),
    "sales_accepted": Step(0.5, 1.3, 0.2),
    "opportunity": Step(0.0, 0.8, 0.5),
    "deal_won": Step(-1.1, 0.9, 0.6),
    "email_open": Step(-0.8, 0.3, 0.6),
    "email_click": Step(-1.4, 0.2, 0.6),
    "webinar_attended": Step(0.2, 0.2, 0.5),
    "newsletter": Step(-0.9, 0.1, 0.6),
}
B2B_ACTIVITY = {"fit": 0.25, "intent": 0.55, "noise": 0.6}

B2C_FIT = {
    "loyalty_member": {"true": 0.8, "false": 0.0},
    "gender": {"f": 0.15, "m": 0.0, "x": 0.0},
    "country": {"NL": 0.2, "BE": 0.1, "DE": -0.1, "other": -0.3},
}
B2C_AGE_FIT = ((0, -0.5), (22, 0.1), (30, 0.4), (50, 0.1), (65, -0.3))
B2C_STEPS = {
    "buyer": Step(-0.7, 1.0, 1.0),
    "account_created": Step(-0.6, 0.6, 0.6),
    "newsletter": Step(-0.2, 0.3, 0.5),
    "newsletter_open": Step(-0.6, 0.3, 0.7),
    "email_click": Step(-2.0, 0.2, 0.6),
    "cart_to_purchase": Step(-0.2, 0.6, 0.6),
}
B2C_ACTIVITY = {"fit": 0.3, "intent": 0.6, "noise": 0.6}
B2C_PURCHASES = {"per_year": 1.2, "fit": 0.5, "intent": 0.4}


def banded(values: np.ndarray, bands: tuple[tuple[int, float], ...]) -> np.ndarray:
    """Effect of a numeric attribute given by bands of (lower bound, effect)."""
    bounds = np.array([b for b, _ in bands])
    effects = np.array([e for _, e in bands])
    return effects[np.clip(np.searchsorted(bounds, values, side="right") - 1, 0, len(bands) - 1)]


def describe(kind: str) -> dict[str, Any]:
    """The hidden model in words and numbers, for the manifest."""
    if kind == "b2b":
        fit: dict[str, Any] = {**B2B_FIT, "employees": dict(B2B_SIZE_FIT)}
        steps, activity = B2B_STEPS, B2B_ACTIVITY
    else:
        fit = {**B2C_FIT, "age": dict(B2C_AGE_FIT)}
        steps, activity = B2C_STEPS, B2C_ACTIVITY
    out: dict[str, Any] = {
        "latent": {
            "fit": f"sum of the attribute effects below + normal(0, {FIT_NOISE}) noise per lead",
            "intent": "standard normal per lead, independent of the attributes",
        },
        "fit_effects": {k: {str(a): b for a, b in v.items()} for k, v in fit.items()},
        "activity": "events per lead ~ Poisson(mean * w / mean(w)), w = exp({fit}*fit + {intent}*intent + "
        "normal(0, {noise})) * (share of the window the lead exists)^0.8".format(**activity),
        "steps": {name: step.describe() for name, step in steps.items()},
    }
    if kind == "b2c":
        out["purchases"] = ("buyers: 1 + Poisson({per_year} * years active * exp({fit}*fit + {intent}*intent))"
                            .format(**B2C_PURCHASES))
    else:
        out["funnel"] = ("reach_mofu and reach_bofu set where in its history a lead moves to mid / bottom of "
                         "funnel content; hand_over (demo or quote request) only after bofu; then "
                         "sales_accepted else sales_rejected, opportunity, deal_won else deal_lost; a step "
                         "due after the window's end does not happen")
    return out
