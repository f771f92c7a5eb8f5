"""`leadscore keys create|list|revoke`: the API keys of the workspace's store.

There is no default key: the API answers 401 until one is created here. A token is printed once,
at creation; the store keeps only its hash.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from leadscore.cli.options import Format, FormatOpt, ProjectOpt
from leadscore.cli.output import err, out
from leadscore.cli.service import open_service
from leadscore.cli.store_output import print_json


def _iso(us: int | None) -> str:
    from leadscore.app.results import iso

    return iso(us) or ""


def create(
    name: Annotated[str, typer.Argument(help="What the key is for (e.g. crm-sync, website).")],
    scope: Annotated[list[str], typer.Option("--scope", help="read, write, admin or intake (repeat for several).")],
    origin: Annotated[
        list[str] | None,
        typer.Option("--origin", help="A site allowed to send with an intake key, e.g. https://www.example.com."),
    ] = None,
    format: FormatOpt = Format.table,
    project: ProjectOpt = None,
) -> None:
    """Create a key; its token is shown once (store it now)."""
    with open_service(project) as service:
        info, token = service.create_key(name, scope, origin or ())
    if format == "json":
        print_json(
            {
                "id": info.id,
                "name": info.name,
                "scopes": sorted(info.scopes),
                "origins": list(info.origins),
                "token": token,
            }
        )
        return
    out.print(token, markup=False, highlight=False)
    err.print(
        f"key {info.id} ({name}, scopes {', '.join(sorted(info.scopes))}) created; the token above is not "
        "stored and cannot be shown again"
    )


def list_(format: FormatOpt = Format.table, project: ProjectOpt = None) -> None:
    """Every key with its scopes and origins (never the token)."""
    with open_service(project) as service:
        found = service.api_keys()
    rows: list[dict[str, Any]] = [
        {
            "id": k.id,
            "name": k.name,
            "scopes": sorted(k.scopes),
            "origins": list(k.origins),
            "created_at": _iso(k.created_at),
            "revoked_at": _iso(k.revoked_at) or None,
        }
        for k in found
    ]
    if format == "json":
        print_json(rows)
        return
    table = Table("id", "name", "scopes", "origins", "created", "revoked")
    for r in rows:
        table.add_row(
            r["id"], r["name"], ", ".join(r["scopes"]), ", ".join(r["origins"]), r["created_at"], r["revoked_at"] or ""
        )
    out.print(table)


def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `leadscore keys list`).")], project: ProjectOpt = None
) -> None:
    """Revoke a key: every request with it is refused from now on."""
    with open_service(project) as service:
        info = service.revoke_key(key_id)
    out.print(f"key {info.id} ({info.name}) revoked")


def register(app: typer.Typer) -> None:
    sub = typer.Typer(no_args_is_help=True, help="API keys: create, list, revoke.")
    sub.command("create")(create)
    sub.command("list")(list_)
    sub.command("revoke")(revoke)
    app.add_typer(sub, name="keys", rich_help_panel="API")
