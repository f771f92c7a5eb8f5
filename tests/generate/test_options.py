"""Bad arguments are refused with a message that names the option."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leadscore.generate import GenerateError
from leadscore.generate.options import make_options, months_before


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"kind": "b2x", "n_leads": 10}, "--kind"),
        ({"kind": "b2b", "n_leads": -1}, "--leads"),
        ({"kind": "b2b", "n_leads": 0}, "--leads"),
        ({"kind": "b2b", "n_leads": 10, "seed": -3}, "--seed"),
        ({"kind": "b2b", "n_leads": 10, "events_per_lead": 0}, "--events-per-lead"),
        ({"kind": "b2b", "n_leads": 10, "end": "yesterday"}, "--end"),
        ({"kind": "b2b", "n_leads": 10, "start": "2026-07-01", "end": "2026-06-01"}, "--start"),
    ],
)
def test_bad_arguments_name_the_option(kwargs: dict[str, object], option: str) -> None:
    with pytest.raises(GenerateError, match=option):
        make_options(**kwargs)  # type: ignore[arg-type]


def test_defaults() -> None:
    opts = make_options("b2c", 5)
    assert opts.events_per_lead == 30 and opts.seed == 0
    assert opts.end == datetime(2026, 6, 1, tzinfo=UTC) and opts.start == datetime(2024, 12, 1, tzinfo=UTC)
    assert make_options("b2b", 5).events_per_lead == 50
    assert make_options("b2b", 12_345_678).id_width == 8


def test_months_before_clamps_the_day() -> None:
    assert months_before(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 13) == datetime(2024, 12, 15, tzinfo=UTC)
