"""A workspace: a directory with `leadscore.yaml` (store URL, model path, settings, destinations).

Settings from the environment (`LEADSCORE_DATABASE_URL`, `LEADSCORE_PROJECT`) override the file,
so one project file serves a laptop (embedded SQLite) and production (PostgreSQL). Webhook
destinations and their secrets live here, never in the model, which is shared and versioned.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadscore.model.errors import ModelError
from leadscore.model.limits import WORKSPACE_LIMITS
from leadscore.model.loader import parse_yaml
from leadscore.model.yamlguard import read_yaml_text

PROJECT_FILE = "leadscore.yaml"
DEFAULT_STORE = "sqlite:///leadscore.db"
DEFAULT_MODEL = "model.yaml"


class WorkspaceError(Exception):
    """No workspace, or a project file that cannot be used; the message says where and why."""


class EnvSettings(BaseSettings):
    """What the environment may set; it wins over the project file."""

    model_config = SettingsConfigDict(env_prefix="LEADSCORE_", extra="ignore")

    database_url: str | None = None
    project: str | None = None


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(default=10_000, ge=1)
    refresh_interval_s: float = Field(default=60.0, gt=0)
    # processes that score large batches (bulk ingest, refresh, model apply) beside the writer; 0: none
    workers: int = Field(default=0, ge=0, le=64)


class ProjectFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    store: str = DEFAULT_STORE
    model: str = DEFAULT_MODEL
    settings: Settings = Settings()
    destinations: dict[str, dict[str, Any]] = {}


class Workspace:
    """A project directory and its settings, with the store URL resolved against it."""

    def __init__(self, root: Path, project: ProjectFile, env: EnvSettings | None = None) -> None:
        self.root = root
        self.project = project
        self.env = env or EnvSettings()

    @property
    def database_url(self) -> str:
        url = self.env.database_url or self.project.store
        return resolve_sqlite_path(url, self.root)

    @property
    def model_path(self) -> Path:
        return (self.root / self.project.model).resolve()

    @property
    def settings(self) -> Settings:
        return self.project.settings

    def destinations(self, *, placeholder_secrets: bool = False) -> dict[str, Any]:
        """Webhook destinations by name; `secret_env: NAME` reads the secret from the environment.

        With `placeholder_secrets`, a `secret_env` variable that is not set stands in as a valid
        secret: the file's shape is checked where the deployment's secrets are absent (a laptop, CI).
        Raises WebhookConfigError naming the destination and field that is wrong.
        """
        from leadscore.webhooks import load_destinations
        from leadscore.webhooks.signing import generate_secret

        items = []
        for name, cfg in self.project.destinations.items():
            item = {"name": name, **cfg}
            env_name = item.pop("secret_env", None)
            if env_name is not None and "secret" not in item:
                value = os.environ.get(str(env_name))
                item["secret"] = generate_secret() if value is None and placeholder_secrets else value or ""
            items.append(item)
        return load_destinations(items, source=f"{self.root / PROJECT_FILE}: destinations")

    @classmethod
    def load(cls, root: str | Path) -> Workspace:
        path = Path(root) / PROJECT_FILE
        if not path.is_file():
            raise WorkspaceError(f"{path}: no project file (create one with `leadscore init`)")
        try:
            data, _ = parse_yaml(read_yaml_text(path, str(path), WORKSPACE_LIMITS), str(path), WORKSPACE_LIMITS)
        except ModelError as exc:
            raise WorkspaceError("; ".join(issue.format(str(path)) for issue in exc.issues)) from None
        try:
            project = ProjectFile.model_validate(data or {})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors())
            raise WorkspaceError(f"{path}: {problems}") from None
        workspace = cls(Path(root).resolve(), project)
        workspace.check_destinations()
        return workspace

    def check_destinations(self) -> None:
        """Refuse a project whose destinations are malformed when it loads, not at the first delivery."""
        from leadscore.webhooks.errors import WebhookConfigError

        try:
            self.destinations(placeholder_secrets=True)
        except WebhookConfigError as exc:
            raise WorkspaceError(str(exc)) from None

    @classmethod
    def find(cls, project: str | Path | None = None, start: str | Path | None = None) -> Workspace:
        """The workspace named by `project`, by LEADSCORE_PROJECT, or found upwards from `start` (cwd)."""
        chosen = project or EnvSettings().project
        if chosen:
            return cls.load(chosen)
        here = Path(start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / PROJECT_FILE).is_file():
                return cls.load(folder)
        raise WorkspaceError(f"no {PROJECT_FILE} in {here} or above: run `leadscore init`, or pass --project DIR")


def resolve_sqlite_path(url: str, root: Path) -> str:
    """`sqlite:///leadscore.db` means a file in the project directory, wherever the command runs."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////"):
        rest = url[len(prefix) :]
        if rest and rest != ":memory:" and not Path(rest).is_absolute():
            return prefix + str((root / rest).resolve())
    return url


def project_text(store: str = DEFAULT_STORE, model: str = DEFAULT_MODEL) -> str:
    return f"""# leadscore project: where the store is, which model scores, and where triggers are delivered.
# LEADSCORE_DATABASE_URL overrides `store` (e.g. postgresql://user@host/db).
store: {store}
model: {model}
settings:
  batch_size: 10000        # events per ingest transaction
  refresh_interval_s: 60   # `leadscore refresh --watch` default
  workers: 0               # scoring processes for bulk work (e.g. 2 on a 4-core machine); 0: score in-process
destinations: {{}}
# destinations:
#   crm:
#     url: https://crm.example.com/hooks/leadscore
#     secret_env: CRM_WEBHOOK_SECRET   # a whsec_... secret, from the environment
#     max_attempts: 8
"""


def init_workspace(root: str | Path, model_text: str, *, force: bool = False) -> Path:
    """Write `leadscore.yaml` and an example model into `root`; refuse to overwrite unless `force`."""
    folder = Path(root)
    folder.mkdir(parents=True, exist_ok=True)
    project = folder / PROJECT_FILE
    model = folder / DEFAULT_MODEL
    for path in (project, model):
        if path.exists() and not force:
            raise WorkspaceError(f"{path} already exists (use --force to overwrite)")
    project.write_text(project_text(), encoding="utf-8")
    model.write_text(model_text, encoding="utf-8")
    return project
