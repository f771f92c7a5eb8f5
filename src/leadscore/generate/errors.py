"""The one error type of the generator: bad arguments or an unusable output directory."""

from __future__ import annotations


class GenerateError(ValueError):
    """A user error; the message names the offending option or path so the CLI can show it as is."""
