"""The dashboard's pages: thin routes over `leadscore.analytics.desk.Desk`.

GET pages render server-side templates; every POST needs the session's CSRF token; actions need a key
with the `write` scope and the model plan the `admin` scope. A read-only key sees everything and the
action buttons are not shown to it (and refused if posted anyway).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from leadscore.analytics.common import AnalyticsError, ReportFilter
from leadscore.analytics.desk import Desk
from leadscore.analytics.queue import PAGE_SIZES, QueueFilter
from leadscore.analytics.reports import CHANNEL_KEYS, TITLES
from leadscore.app.errors import NotFound, ServiceError
from leadscore.dashboard.render import Pages
from leadscore.dashboard.session import Sessions, SessionUser, csrf_ok
from leadscore.domain.timeutil import parse_timestamp
from leadscore.model import ModelError

HERE = Path(__file__).parent
MAX_MODEL_TEXT = 200_000


def dashboard_router(sessions: Sessions | None = None) -> APIRouter:
    sessions = sessions or Sessions()
    pages = Pages(HERE / "templates")
    router = APIRouter(prefix="/app", include_in_schema=False)

    def service(request: Request) -> Any:
        return request.app.state.service

    def user_of(request: Request) -> SessionUser | None:
        data = sessions.read(request)
        if data is None:
            return None
        keys = {k.id: k for k in service(request).api_keys(include_revoked=False)}
        key = keys.get(data["k"])
        if key is None:
            return None
        return SessionUser(key.id, key.name, frozenset(key.scopes), data["c"])

    def to_login(request: Request) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/app/login?" + urlencode({"next": target}), status_code=303)

    def page(request: Request, user: SessionUser | None, template: str, status: int = 200, **ctx: Any) -> Response:
        return pages.render(request, template, user=user, status=status, **ctx)

    def problem(request: Request, user: SessionUser | None, status: int, message: str) -> Response:
        return page(request, user, "error.html.j2", status=status, message=message, code=status)

    @router.get("/static/report.css")
    def report_css() -> Response:
        from leadscore.analytics.html import CSS

        return Response(
            CSS.read_text(encoding="utf-8"), media_type="text/css", headers={"Cache-Control": "max-age=3600"}
        )

    @router.get("", response_class=HTMLResponse)
    @router.get("/", response_class=HTMLResponse)
    def home() -> Response:
        return RedirectResponse("/app/queue", status_code=303)

    # -- login ------------------------------------------------------------------------------------
    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: Annotated[str, Query(max_length=500)] = "/app/queue") -> Response:
        return _login_page(request, next, None, 200)

    def _login_page(request: Request, next: str, error: str | None, status: int) -> Response:
        token, signed = sessions.new_login_token()
        response = page(request, None, "login.html.j2", status=status, next=_safe_next(next), error=error, csrf=token)
        sessions.set_login_cookie(response, request, signed)
        return response

    @router.post("/login", response_class=HTMLResponse)
    def login(
        request: Request,
        key: Annotated[str, Form(max_length=500)] = "",
        csrf: Annotated[str, Form(max_length=200)] = "",
        next: Annotated[str, Form(max_length=500)] = "/app/queue",
    ) -> Response:
        if not sessions.check_login_token(request, csrf):
            return problem(request, None, 403, "The login form expired or did not come from this site. Reload it.")
        found = service(request).verify_key(key.strip()) if key.strip() else None
        if found is None:
            return _login_page(request, next, "That key is unknown or revoked.", 401)
        response = RedirectResponse(_safe_next(next), status_code=303)
        sessions.issue(response, request, found.id)
        return response

    @router.post("/logout")
    def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
        user = user_of(request)
        if user is not None and not csrf_ok(user, csrf):
            return problem(request, user, 403, "This request did not come from the dashboard (bad CSRF token).")
        response = RedirectResponse("/app/login", status_code=303)
        sessions.clear(response)
        return response

    # -- queue ------------------------------------------------------------------------------------
    @router.get("/queue", response_class=HTMLResponse)
    def queue(
        request: Request,
        label: Annotated[str, Query(max_length=200)] = "",
        stage: Annotated[str, Query(max_length=200)] = "",
        playbook: Annotated[str, Query(max_length=200)] = "",
        owner: Annotated[str, Query(max_length=200)] = "",
        account: Annotated[str, Query(max_length=255)] = "",
        min_score: Annotated[str, Query(max_length=30)] = "",
        max_score: Annotated[str, Query(max_length=30)] = "",
        q: Annotated[str, Query(max_length=200)] = "",
        size: Annotated[int, Query()] = 50,
        after: Annotated[str, Query(max_length=2000)] = "",
        done: Annotated[str, Query(max_length=200)] = "",
    ) -> Response:
        user = user_of(request)
        if user is None:
            return to_login(request)
        params = {
            "label": label,
            "stage": stage,
            "playbook": playbook,
            "owner": owner,
            "account": account,
            "min_score": min_score,
            "max_score": max_score,
            "q": q,
        }
        try:
            f = QueueFilter(**{k: (v or None) for k, v in params.items()})
            result = Desk(service(request)).queue(f, size if size in PAGE_SIZES else 50, after or None)
        except ValidationError as exc:
            return problem(request, user, 422, "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors()))
        except AnalyticsError as exc:
            return problem(request, user, 422, str(exc))
        model = service(request).model
        kept = {k: v for k, v in {**params, "size": str(size)}.items() if v and not (k == "size" and v == "50")}
        return page(
            request,
            user,
            "queue.html.j2",
            page=result,
            filters=params,
            size=size,
            done=done,
            next_url=("/app/queue?" + urlencode({**kept, "after": result.next_cursor})) if result.next_cursor else None,
            first_url=("/app/queue?" + urlencode(kept)) if after else None,
            label_options=[f"{s}:{b.label}" for s, bands in model.labels.items() for b in bands],
            stage_options=model.lifecycle.all_stages() if model.lifecycle else [],
            playbook_options=[p.name for p in model.playbooks if p.name],
            sizes=PAGE_SIZES,
            filtered=any(params.values()),
        )

    # -- a lead -----------------------------------------------------------------------------------
    @router.get("/leads/{lead_id:path}", response_class=HTMLResponse)
    def lead(
        request: Request,
        lead_id: str,
        done: Annotated[str, Query(max_length=200)] = "",
        error: Annotated[str, Query(max_length=300)] = "",
    ) -> Response:
        user = user_of(request)
        if user is None:
            return to_login(request)
        try:
            story = Desk(service(request)).story(lead_id)
        except NotFound:
            return problem(request, user, 404, f"There is no lead {lead_id!r} in the store.")
        from leadscore.dashboard.charts import score_chart

        return page(
            request,
            user,
            "lead.html.j2",
            story=story,
            done=done,
            error=error,
            chart=score_chart(story),
            actions=_ACTIONS,
        )

    @router.post("/leads/{lead_id:path}/actions")
    def act(
        request: Request,
        lead_id: str,
        action: Annotated[str, Form(max_length=50)] = "",
        reason: Annotated[str, Form(max_length=2000)] = "",
        csrf: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        user = user_of(request)
        if user is None:
            return to_login(request)
        if not csrf_ok(user, csrf):
            return problem(request, user, 403, "This request did not come from the dashboard (bad CSRF token).")
        if not user.can("write"):
            return problem(
                request, user, 403, f"The key {user.name!r} may read but not act (it lacks the write scope)."
            )
        here = f"/app/leads/{quote(lead_id, safe='')}"  # the id as one path segment
        try:
            Desk(service(request)).act(lead_id, action, reason, by=user.name)
        except NotFound:
            return problem(request, user, 404, f"There is no lead {lead_id!r} in the store.")
        except ServiceError as exc:
            return RedirectResponse(f"{here}?" + urlencode({"error": exc.message}), status_code=303)
        return RedirectResponse(f"{here}?" + urlencode({"done": action}), status_code=303)

    # -- analytics --------------------------------------------------------------------------------
    @router.get("/analytics", response_class=HTMLResponse)
    def analytics_home() -> Response:
        return RedirectResponse("/app/analytics/funnel", status_code=303)

    @router.get("/analytics/{name}", response_class=HTMLResponse)
    def analytics(
        request: Request,
        name: str,
        start: Annotated[str, Query(alias="from", max_length=40)] = "",
        end: Annotated[str, Query(alias="to", max_length=40)] = "",
        label: Annotated[str, Query(max_length=200)] = "",
        source: Annotated[str, Query(max_length=200)] = "",
        by: Annotated[str, Query(max_length=100)] = "",
        target: Annotated[str, Query(max_length=100)] = "",
    ) -> Response:
        user = user_of(request)
        if user is None:
            return to_login(request)
        if name not in TITLES:
            return problem(request, user, 404, f"There is no report {name!r}.")
        svc = service(request)
        try:
            to = parse_timestamp(end) if end else svc.now()
            since = parse_timestamp(start) if start else to - timedelta(days=365)
            labels = dict([label.split(":", 1)]) if ":" in label else {}
            f = ReportFilter(start=since, end=to, labels=labels, attributes={"source": source} if source else {})
            report = Desk(svc).report(name, f, by=by or None, target=target or None)
        except ValidationError as exc:
            return problem(request, user, 422, "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors()))
        except (AnalyticsError, ValueError) as exc:
            return problem(request, user, 422, str(exc))
        from leadscore.analytics.html import body_context

        model = svc.model
        return page(
            request,
            user,
            "analytics.html.j2",
            name=name,
            titles=TITLES,
            report=report,
            form={
                "from": since.date().isoformat(),
                "to": to.date().isoformat(),
                "label": label,
                "source": source,
                "by": by or "source",
                "target": target,
            },
            channel_keys=CHANNEL_KEYS,
            stages=model.lifecycle.stages if model.lifecycle else [],
            label_options=[f"{s}:{b.label}" for s, bands in model.labels.items() for b in bands],
            **body_context(report),
        )

    # -- models -----------------------------------------------------------------------------------
    @router.get("/models", response_class=HTMLResponse)
    def models(
        request: Request, a: Annotated[str, Query(max_length=64)] = "", b: Annotated[str, Query(max_length=64)] = ""
    ) -> Response:
        user = user_of(request)
        if user is None:
            return to_login(request)
        return _models_page(request, user, a, b)

    def _models_page(request: Request, user: SessionUser, a: str, b: str, status: int = 200, **extra: Any) -> Response:
        desk = Desk(service(request))
        versions = desk.versions()
        diff, diff_error = None, None
        if a and b:
            try:
                diff = desk.diff(a, b)
            except AnalyticsError as exc:
                diff_error = str(exc)
        from leadscore.dashboard.charts import lifecycle_svg

        view = desk.model()
        extra = {"plan": None, "plan_error": None, "candidate": "", **extra}
        return page(
            request,
            user,
            "models.html.j2",
            status=status,
            view=view,
            versions=versions,
            a=a,
            b=b,
            diff=diff,
            diff_error=diff_error,
            lifecycle=lifecycle_svg(view.stages, view.exits, view.initial),
            version=service(request).evaluator.version,
            **extra,
        )

    @router.post("/models/plan", response_class=HTMLResponse)
    def plan(
        request: Request,
        source: Annotated[str, Form(max_length=MAX_MODEL_TEXT)] = "",
        csrf: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        user = user_of(request)
        if user is None:
            return to_login(request)
        if not csrf_ok(user, csrf):
            return problem(request, user, 403, "This request did not come from the dashboard (bad CSRF token).")
        if not user.can("admin"):
            return problem(request, user, 403, f"Planning a model needs an admin key; {user.name!r} is not one.")
        try:
            result = Desk(service(request)).plan(source)
        except ModelError as exc:
            return _models_page(request, user, "", "", status=422, plan_error=exc.render(), candidate=source)
        except ServiceError as exc:
            return _models_page(request, user, "", "", status=422, plan_error=exc.message, candidate=source)
        return _models_page(request, user, "", "", plan=result.to_dict(), candidate=source)

    return router


_ACTIONS = [
    ("accepted", "Accept", "primary"),
    ("rejected", "Reject", "plain"),
    ("disqualified", "Disqualify", "danger"),
    ("opportunity", "Opportunity", "plain"),
    ("won", "Won", "good"),
    ("lost", "Lost", "plain"),
]


def _safe_next(target: str) -> str:
    """Only paths of this dashboard: never an open redirect to another site."""
    return (
        target
        if target.startswith("/app/") and not target.startswith("/app//") and "\\" not in target
        else "/app/queue"
    )
