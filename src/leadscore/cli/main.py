"""The `leadscore` command. Each command group lives in its own module and registers itself here.

Modules import heavy libraries (pandas, scikit-learn, DuckDB) inside their command functions so that
`leadscore --help` starts fast.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="leadscore",
    help="Explainable lead scoring: rule models, lifecycle, triggers, batch and predictive scoring.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

# Order is the order of `leadscore --help`.
_COMMAND_MODULES = (
    "leadscore.cli.core",
    "leadscore.cli.store",
    "leadscore.cli.batch",
    "leadscore.cli.generate",
    "leadscore.cli.predictive",
    "leadscore.cli.report",
    "leadscore.cli.keys",
    "leadscore.cli.serve",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    """The `leadscore` program: the commands, and a missing optional part said in one line, not a traceback."""
    from leadscore._extras import MissingExtra

    try:
        app()
    except MissingExtra as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
