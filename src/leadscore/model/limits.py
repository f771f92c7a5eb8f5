"""Bounds on what a model file may contain, so a hostile or broken file is refused in bounded time and memory.

A real model is a few kilobytes (the largest example is 11 KB, with 32 rules). The bounds are far above
that and far below what makes validation or scoring slow: validating a 500 KB model (1,746 rules) takes about
6 s and 70 MB, and every rule is evaluated for every lead. docs/model-format.md ("Limits")
states them for users.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class YamlLimits:
    """What one YAML file (a model, or a file of model test cases) may hold."""

    max_bytes: int
    max_depth: int  # nested mappings and sequences; the document's root is level 1
    max_nodes: int  # scalars, mappings and sequences, keys included
    kind: str = "model file"  # what the file is, in messages: "aliases are not allowed in a model file"

    @property
    def size_text(self) -> str:
        return _size(self.max_bytes)


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n // 1024} KiB"


MODEL_LIMITS = YamlLimits(max_bytes=512 * 1024, max_depth=32, max_nodes=100_000)
"""A model file: 512 KiB, 32 levels (about 14 levels of `all:` / `any:` / `not:`), 100,000 nodes."""

CASE_LIMITS = YamlLimits(max_bytes=8 * 1024 * 1024, max_depth=32, max_nodes=1_000_000, kind="test cases file")
"""A file of model test cases, which may list many events."""

WORKSPACE_LIMITS = YamlLimits(max_bytes=512 * 1024, max_depth=32, max_nodes=100_000, kind="workspace file")
"""`leadscore.yaml`: settings and destinations."""

MAX_RULES = 2_000
"""Rules in one model; every rule is evaluated for every lead."""

MAX_PATTERN_CHARS = 1_000
"""Characters of one `matches:` regular expression."""

MAX_DURATION_S = 100 * 365 * 86_400
"""The longest duration (`within:`, `half_life:`...): 100y. Longer ones mean "ever" anyway, and a window
start of T minus thousands of years is before the first representable date."""
