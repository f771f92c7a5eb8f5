"""The API's settings: defaults that bound the time from an acknowledged event to its score."""

from __future__ import annotations

import pytest

from leadscore.api.settings import ApiSettings


def test_the_rescoring_gathers_commits_for_50_ms_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # the gather is waited after a commit wakes the rescoring process, before the drain that scores it:
    # 100 ms made half of a probe's median time to score under the 8-client load (benchmarks/results/api.md)
    monkeypatch.delenv("LEADSCORE_API_RESCORE_GATHER_S", raising=False)
    assert ApiSettings().rescore_gather_s == 0.05


def test_the_gather_is_set_from_the_environment_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSCORE_API_RESCORE_GATHER_S", "0.1")
    assert ApiSettings().rescore_gather_s == 0.1
    monkeypatch.setenv("LEADSCORE_API_RESCORE_GATHER_S", "2")
    with pytest.raises(ValueError, match="less than or equal to 1"):
        ApiSettings()


def test_the_intake_yields_from_half_a_second_of_lag_by_at_most_5_ms_a_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    # half of the 1 s bound on acknowledgement to score, and a pause that keeps 8 clients above 1,000
    # events/s and each request's p99 under 50 ms (leadscore.app.score_lag)
    for name in ("LEADSCORE_API_INTAKE_YIELD_AFTER_S", "LEADSCORE_API_INTAKE_YIELD_MAX_S"):
        monkeypatch.delenv(name, raising=False)
    assert (ApiSettings().intake_yield_after_s, ApiSettings().intake_yield_max_s) == (0.5, 0.005)
    monkeypatch.setenv("LEADSCORE_API_INTAKE_YIELD_AFTER_S", "0")  # never
    assert ApiSettings().intake_yield_after_s == 0
    for name, bad in (("LEADSCORE_API_INTAKE_YIELD_AFTER_S", "-1"), ("LEADSCORE_API_INTAKE_YIELD_MAX_S", "0.5")):
        monkeypatch.setenv(name, bad)
        with pytest.raises(ValueError):
            ApiSettings()
        monkeypatch.delenv(name)
