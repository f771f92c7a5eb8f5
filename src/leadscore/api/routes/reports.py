"""The analytics reports over HTTP: the JSON that `leadscore report NAME --format json` prints.

Mounted by `leadscore.dashboard.site` (what `leadscore serve` runs) beside the API's own routers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import ValidationError

from leadscore.analytics import AnalyticsError, ReportFilter, run_report
from leadscore.api.deps import Reader, ServiceDep
from leadscore.app.errors import InvalidInput
from leadscore.domain.timeutil import parse_timestamp

router = APIRouter(prefix="/v1", tags=["reports"])
Name = Annotated[str, Path(pattern="^(funnel|channels|quality|feedback|triggers)$")]
Text = Annotated[str | None, Query(max_length=200)]


def _pairs(values: list[str], field: str) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=" if "=" in item else ":")
        if not sep or not key:
            raise InvalidInput(f"{item!r}: expected NAME=VALUE", field=field)
        out[key] = value
    return out


def _time(text: str | None, field: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise InvalidInput(f"{text!r}: {exc} (expected ISO 8601, e.g. 2026-01-01)", field=field) from None


@router.get("/reports/{name}", summary="An analytics report: funnel, channels, quality, feedback or triggers")
def report(
    name: Name,
    service: ServiceDep,
    caller: Reader,
    start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
    label: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006 (FastAPI reads the default)
    attribute: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006
    stage: Text = None,
    playbook: Text = None,
    account: Text = None,
    by: Text = None,
    target: Text = None,
    bands: Text = None,
    channel: Text = None,
) -> dict[str, Any]:
    """Same numbers as `leadscore report NAME --format json`; `from` inclusive, `to` exclusive (default:
    the 365 days before now); `label=SET=LABEL` and `attribute=NAME=VALUE` repeat."""
    to = _time(end, "to") or service.now()
    since = _time(start, "from") or to - timedelta(days=365)
    try:
        edges = tuple(float(x) for x in bands.split(",")) if bands else None
    except ValueError:
        raise InvalidInput(f"{bands!r}: expected numbers separated by commas", field="bands") from None
    try:
        f = ReportFilter(
            start=since,
            end=to,
            labels=_pairs(label, "label"),
            attributes=_pairs(attribute, "attribute"),
            stage=stage,
            playbook=playbook,
            account=account,
        )
        result = run_report(service, name, f, by=by, target=target, bands=edges, channel=channel)
    except ValidationError as exc:
        raise InvalidInput(
            "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors()), field="to"
        ) from None
    except AnalyticsError as exc:
        raise InvalidInput(str(exc)) from None
    return result.model_dump(mode="json")
