"""`frame_sums`: a dimension's points added in rule order, and the error bound of that sum."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.bulk import frame_sums
from tests.support.profiles import examples


@settings(max_examples=examples(200), deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.one_of(st.integers(-(2**40), 2**40).map(float), st.floats(-1e6, 1e6)), min_size=4, max_size=4),
            st.booleans(),
        ),
        min_size=1,
        max_size=24,
    )
)
def test_a_sum_skipping_its_known_whole_terms_and_zero_errors_is_the_same(terms: list[Any]) -> None:
    """`sum_terms` told which terms are whole numbers (`whole_points`) and given None for an exact term's
    error gives the same value and error, bit for bit, as testing every term and adding zeros."""
    values = [np.array(t) for t, _ in terms]
    errors = [np.abs(v) * 2.0**-40 if exact else None for v, (_, exact) in zip(values, terms, strict=True)]
    whole = [bool((v == np.floor(v)).all()) and exact for v, (_, exact) in zip(values, terms, strict=True)]
    zeros = [np.zeros(4) if e is None else e for e in errors]
    known = frame_sums.sum_terms(values, errors, 4, whole)
    tested = frame_sums.sum_terms([v.copy() for v in values], zeros, 4)
    for a, b in zip(known, tested, strict=True):
        assert a.tobytes() == b.tobytes()
