"""Reading model YAML safely: bounded size, depth and node count; no aliases, anchors, tags or directives.

Why refuse rather than expand: an alias is expanded every time the document is walked (to plain Python,
then by validation), so nine levels of ten aliases each make a billion nodes out of 300 bytes. A model
has no use for aliases, tags (`!!python/object/apply` is read as a plain list by a round-trip loader) or
`%YAML 1.1` directives (which would turn `on:` back into `true:`), so they are refused where they stand,
as the composer meets them, before anything is built from them. The checks run inside the one parse
that builds the document (not a second pass), so a refused file costs no more than reading it.
"""

from __future__ import annotations

import codecs
from functools import cache
from pathlib import Path
from typing import Any

from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import AliasEvent, DocumentStartEvent, ScalarEvent

from leadscore.model.errors import ModelError, ModelIssue
from leadscore.model.limits import YamlLimits

_UTF16_32_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


class RefusedYAML(MarkedYAMLError):
    """YAML that is well-formed but not allowed in the file; `problem_mark` says where."""


def read_yaml_text(path: Path, source: str, limits: YamlLimits) -> str:
    """The text of a UTF-8 file of at most `limits.max_bytes`, read without ever holding more.

    A UTF-8 byte-order mark is dropped (YAML allows one); other encodings are refused with the line
    and column of the first byte that is not UTF-8.
    """
    try:
        with path.open("rb") as f:
            data = f.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise ModelError([ModelIssue("", "file not found")], source) from None
    except IsADirectoryError:
        raise ModelError([ModelIssue("", "is a directory, not a file")], source) from None
    except OSError as exc:
        raise ModelError([ModelIssue("", f"cannot read the file: {exc.strerror or exc}")], source) from None
    if len(data) > limits.max_bytes:
        raise ModelError([ModelIssue("", _too_large(limits))], source)
    return decode_yaml_bytes(data, source)


def decode_yaml_bytes(data: bytes, source: str | None) -> str:
    for bom, name in _UTF16_32_BOMS:
        if data.startswith(bom):
            raise ModelError(
                [ModelIssue("", f"the file is {name} (it starts with a byte-order mark); save it as UTF-8", 1, 1)],
                source,
            )
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start]
        raise ModelError(
            [ModelIssue("", f"not UTF-8: byte 0x{byte:02x} cannot be decoded ({exc.reason})", line, column)], source
        ) from None


def check_text_size(text: str, source: str | None, limits: YamlLimits) -> None:
    """The byte bound for text that did not come from a file (the API, the store)."""
    if len(text) > limits.max_bytes or len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        raise ModelError([ModelIssue("", _too_large(limits))], source)


def _too_large(limits: YamlLimits) -> str:
    return f"the file is larger than {limits.size_text}, the limit for this kind of file"


class _GuardedComposer(Composer):
    """ruamel's composer, refusing what a model file must not hold as soon as it is met."""

    limits: YamlLimits

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self._nodes = 0

    def compose_document(self: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, DocumentStartEvent):
            if event.version is not None and tuple(event.version) != (1, 2):
                version = ".".join(str(v) for v in event.version)
                raise RefusedYAML(
                    None, None, f"%YAML {version} directive: a {self.limits.kind} is YAML 1.2", event.start_mark
                )
            if event.tags:
                raise RefusedYAML(
                    None, None, f"%TAG directives are not allowed in a {self.limits.kind}", event.start_mark
                )
        return super().compose_document()

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            raise RefusedYAML(
                None,
                None,
                f"aliases (*{event.anchor}) are not allowed in a {self.limits.kind}; write the value out",
                event.start_mark,
            )
        if event.anchor is not None:
            raise RefusedYAML(
                None,
                None,
                f"anchors (&{event.anchor}) are not allowed in a {self.limits.kind}; write the value out",
                event.start_mark,
            )
        tag = getattr(event, "tag", None)
        if tag is not None:
            shown = str(tag).replace("tag:yaml.org,2002:", "!!")
            raise RefusedYAML(None, None, f"tags ({shown}) are not allowed in a {self.limits.kind}", event.start_mark)
        if isinstance(event, ScalarEvent) and event.value == "<<" and event.style is None:
            raise RefusedYAML(None, None, f"merge keys (<<) are not allowed in a {self.limits.kind}", event.start_mark)
        self._nodes += 1
        if self._nodes > self.limits.max_nodes:
            raise RefusedYAML(
                None, None, f"more than {self.limits.max_nodes:,} values in one file (the limit)", event.start_mark
            )
        return super().compose_node(parent, index)


@cache
def guarded_composer(limits: YamlLimits) -> type[Composer]:
    """A composer class enforcing `limits` (depth is enforced by ruamel's own `max_depth`)."""
    return type("GuardedComposer", (_GuardedComposer,), {"limits": limits})
