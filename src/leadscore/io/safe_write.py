"""Writing a user's output file without ever destroying another file: refuse an existing one unless
forced, and replace it in one rename, so a failure halfway leaves the old file whole."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from leadscore.io.errors import DataFileError


def check_target(path: Path, force: bool, what: str = "output file", option: str = "--out") -> None:
    """Refuse a directory, and an existing file unless `force`."""
    if path.is_dir():
        raise DataFileError.file_level(str(path), f"the {what} is a directory")
    if path.exists() and not force:
        raise DataFileError.file_level(
            str(path), f"{what} already exists: choose another {option}, or add --force to replace it"
        )


def write_text_file(path: Path, text: str, *, force: bool = False) -> None:
    """Write `text` to `path` through a temporary file beside it, renamed into place."""
    check_target(path, force)
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise DataFileError.file_level(str(path), f"cannot write: {exc.strerror or exc}") from None
    try:
        os.chmod(fd, 0o666 & ~umask())
        with open(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temp, path)
    except OSError as exc:
        raise DataFileError.file_level(str(path), f"cannot write: {exc.strerror or exc}") from None
    finally:
        Path(temp).unlink(missing_ok=True)


def umask() -> int:
    """The process's file-creation mask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
