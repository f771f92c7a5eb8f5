"""Running `leadscore` on a hostile file as a user would: in its own process, with a hard timeout.

The timeout is not a speed target: it turns a hang (an alias bomb being expanded, a regex
backtracking) into a failure instead of a stuck test run. The child reports its own peak memory.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HANG_S = 120.0
MEMORY_BOUND_MB = 200.0

# The child's own peak: VmHWM of its address space. (ru_maxrss would also count the pages of the test
# process it was forked from, which Linux carries over the exec.)
_CHILD = """
import atexit, resource, sys

def peak_kb():
    try:
        with open("/proc/self/status") as status:
            return int(next(line for line in status if line.startswith("VmHWM:")).split()[1])
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

atexit.register(lambda: sys.stderr.write(f"\\n@maxrss_kb {peak_kb()}\\n"))
sys.argv = ["leadscore", *sys.argv[1:]]
from leadscore.cli.main import main
main()
"""

_RSS = re.compile(r"\n@maxrss_kb (\d+)\n$")

MINIMAL = "format: 1\nname: x\nrules:\n  - {id: r, on: visit, points: 1}\n"


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str
    peak_mb: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def leadscore(*args: str | Path, cwd: Path | None = None) -> Run:
    """Run the CLI in a child process; fails the calling test if it does not end within `HANG_S`."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *(str(a) for a in args)],
        capture_output=True,
        text=True,
        timeout=HANG_S,
        cwd=cwd,
        check=False,
    )
    found = _RSS.search(done.stderr)
    assert found is not None, done.stderr[-2000:]
    stderr = done.stderr[: found.start()]
    return Run(done.returncode, done.stdout, stderr, int(found.group(1)) / 1024)


def refused(path: Path) -> Run:
    """`leadscore validate path`: refused (exit 2), without a traceback, in bounded memory."""
    run = leadscore("validate", path)
    assert run.code == 2, run.output
    assert "Traceback" not in run.output, run.output
    assert "error in the scoring model" in run.stderr, run.output
    assert run.peak_mb < MEMORY_BOUND_MB, f"{run.peak_mb:.0f} MB"
    return run


def alias_bomb(levels: int, width: int = 10) -> str:
    """A billion-laughs document: each level lists `width` aliases of the one below."""
    lines = ["format: 1", "name: bomb", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    lines.append("rules: [{id: r, on: visit, points: 1}]")
    return "\n".join(lines) + "\n"
