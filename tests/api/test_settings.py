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
