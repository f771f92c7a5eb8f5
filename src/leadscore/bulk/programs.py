"""Starting the programs the batch engine runs in child processes (`python -m leadscore.bulk.adbc_*`).

They are modules of this package, run by the same interpreter; the child must import this very copy
of leadscore (a source tree on `sys.path` as well as an installed one), so its directory is put on
the child's PYTHONPATH unless the interpreter already looks there.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

# Linux refuses one argument of `execve` over 128 KiB (MAX_ARG_STRLEN) with E2BIG: a job longer than
# this (a query naming many ids) goes in a file, passed as `@path` (a job is JSON: never starts with @)
INLINE_BYTES = 64 * 1024


def _default_paths() -> set[str]:
    paths = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    paths.update(site.getsitepackages())
    return {str(Path(p).resolve()) for p in paths}


def child_env() -> dict[str, str]:
    """This process's environment, with the directory holding `leadscore` on PYTHONPATH if needed and the
    children's allocator settings (`allocators`) where it sets none."""
    import leadscore
    from leadscore.bulk.allocators import allocator_env

    env = dict(os.environ)
    env.update(allocator_env(env))
    root = str(Path(leadscore.__file__).resolve().parents[1])
    if root not in _default_paths():
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env


def spawn(module: str, arg: str, **popen: Any) -> subprocess.Popen[bytes]:
    """`python -m module arg` in a child process (keyword arguments go to `subprocess.Popen`). An
    `arg` over INLINE_BYTES is written to a file the child reads and removes (`job_text`)."""
    path = None
    if len(arg.encode()) > INLINE_BYTES:
        fd, path = tempfile.mkstemp(prefix="leadscore-job-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(arg)
        arg = f"@{path}"
    try:
        return subprocess.Popen([sys.executable, "-m", module, arg], env=child_env(), **popen)
    except BaseException:
        if path is not None:
            os.unlink(path)
        raise


def job_text(arg: str) -> str:
    """A program's argument as `spawn` was given it: inline, or read from the `@path` file (removed)."""
    if not arg.startswith("@"):
        return arg
    path = Path(arg[1:])
    try:
        return path.read_text(encoding="utf-8")
    finally:
        path.unlink(missing_ok=True)
