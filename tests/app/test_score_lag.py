"""Back-pressure by age (leadscore.app.score_lag): the pause's policy, and the age of the oldest commit
whose leads the rescoring has not scored, kept from the commits' times and the rescoring's catch-ups.
A clock of the test's own: no timing in these tests."""

from __future__ import annotations

import pytest

from leadscore.app.score_lag import GRAIN_S, MAX_ENTRIES, RAMP_S, ScoreLag, pause_s


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_no_pause_up_to_the_threshold_then_a_ramp_to_the_largest() -> None:
    assert pause_s(0.0, 0.5, 0.005) == 0.0
    assert pause_s(0.5, 0.5, 0.005) == 0.0  # at the threshold: not yet
    assert pause_s(0.5 + RAMP_S / 2, 0.5, 0.005) == pytest.approx(0.0025)
    assert pause_s(0.5 + RAMP_S, 0.5, 0.005) == pytest.approx(0.005)
    assert pause_s(60.0, 0.5, 0.005) == pytest.approx(0.005)  # never more than the largest
    assert pause_s(0.6, 0.5, 0.005, ramp_s=0.1) == pytest.approx(0.005)


@pytest.mark.parametrize(("after_s", "max_s"), [(0.0, 0.005), (0.5, 0.0)])
def test_either_setting_at_zero_never_pauses(after_s: float, max_s: float) -> None:
    assert pause_s(100.0, after_s, max_s) == 0.0
    clock = Clock()
    lag = ScoreLag(after_s, max_s, clock)
    lag.committed()
    clock.now += 100.0
    assert lag.age() == pytest.approx(100.0) and lag.pause() == 0.0


def test_the_age_is_the_oldest_commit_not_caught_up() -> None:
    clock = Clock()
    lag = ScoreLag(0.5, 0.005, clock)
    assert lag.age() == 0.0 and lag.pause() == 0.0  # nothing committed
    lag.committed()  # at 1000.0
    clock.now = 1000.3
    lag.committed()
    clock.now = 1000.6
    assert lag.age() == pytest.approx(0.6)
    assert lag.pause() == pytest.approx(0.005 * 0.1 / RAMP_S)
    lag.caught_up(1000.1)  # a drain that took its leads between the two commits
    assert lag.age() == pytest.approx(0.3)
    assert lag.pause() == 0.0
    lag.caught_up(1000.5)  # after both
    assert lag.age() == 0.0


def test_a_catch_up_older_than_every_commit_changes_nothing() -> None:
    clock = Clock()
    lag = ScoreLag(0.5, 0.005, clock)
    lag.committed()
    lag.caught_up(999.0)  # a drain that took its leads before the commit (its signal arrived late)
    clock.now += 2.0
    assert lag.age() == pytest.approx(2.0)


def test_close_commits_share_an_entry_and_a_catch_up_within_it_keeps_what_follows() -> None:
    clock = Clock()
    lag = ScoreLag(0.5, 0.005, clock)
    for step in range(5):  # five commits within one grain
        clock.now = 1000.0 + step * GRAIN_S / 10
        lag.committed()
    assert len(lag._spans) == 1
    lag.caught_up(1000.0 + 2.5 * GRAIN_S / 10)  # took after the third: the last two remain, from `took` on
    clock.now = 1001.0
    assert lag.age() == pytest.approx(1.0 - 2.5 * GRAIN_S / 10)
    lag.caught_up(1000.0 + GRAIN_S)
    assert lag.age() == 0.0


def test_the_entries_are_bounded_whatever_the_rescoring_does() -> None:
    clock = Clock()
    lag = ScoreLag(0.5, 0.005, clock)
    for _ in range(MAX_ENTRIES + 100):  # the rescoring never catches up
        clock.now += 2 * GRAIN_S
        lag.committed()
    assert len(lag._spans) == MAX_ENTRIES
    assert lag.age() == pytest.approx((MAX_ENTRIES + 100 - 1) * 2 * GRAIN_S)
    lag.caught_up(clock.now - GRAIN_S)  # the last entry holds every commit past the bound: still queued
    assert lag.age() == pytest.approx(GRAIN_S)
    lag.caught_up(clock.now + GRAIN_S)
    assert lag.age() == 0.0


def test_the_pauses_given_are_counted() -> None:
    clock = Clock()
    lag = ScoreLag(0.5, 0.005, clock)
    lag.committed()
    assert lag.pause() == 0.0 and lag.paused_s == 0.0
    clock.now += 10.0
    assert lag.pause() == pytest.approx(0.005)
    assert lag.pause() == pytest.approx(0.005)
    assert lag.paused_s == pytest.approx(0.01)
