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
from pathlib import Path
from typing import Any


def _default_paths() -> set[str]:
    paths = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    paths.update(site.getsitepackages())
    return {str(Path(p).resolve()) for p in paths}


def child_env() -> dict[str, str]:
    """This process's environment, with the directory holding `leadscore` on PYTHONPATH if needed."""
    import leadscore

    env = dict(os.environ)
    root = str(Path(leadscore.__file__).resolve().parents[1])
    if root not in _default_paths():
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env


def spawn(module: str, arg: str, **popen: Any) -> subprocess.Popen[bytes]:
    """`python -m module arg` in a child process (keyword arguments go to `subprocess.Popen`)."""
    return subprocess.Popen([sys.executable, "-m", module, arg], env=child_env(), **popen)
