"""Load a model file: YAML 1.2 with line numbers, validated, with every error located.

ruamel.yaml reads YAML 1.2 (so `on:` is a key, not `True`) and remembers where each key and item
stands. Validation errors from pydantic and from the cross-reference checks come back as paths,
which are mapped onto those positions.
"""

from __future__ import annotations

import difflib
import functools
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.reader import ReaderError

from leadscore.model.checks import check_model
from leadscore.model.errors import ModelError, ModelIssue
from leadscore.model.limits import MODEL_LIMITS, YamlLimits
from leadscore.model.spec import ScoringModel
from leadscore.model.yamlguard import RefusedYAML, check_text_size, guarded_composer, read_yaml_text

Pos = tuple[int, int]
Loc = tuple[str | int, ...]


class _Constructor(RoundTripConstructor):
    """Dates stay text: the format has no date type, and a model should read what its author wrote."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_str)


def _yaml(limits: YamlLimits) -> YAML:
    y = YAML(typ="rt")
    y.Constructor = _Constructor
    y.Composer = guarded_composer(limits)
    y.max_depth = limits.max_depth
    y.version = (1, 2)
    y.allow_duplicate_keys = False
    return y


def _plain(node: Any, loc: Loc, positions: dict[Loc, Pos]) -> Any:
    """Convert ruamel's round-trip nodes to plain Python, recording the position of every path."""
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for key, value in node.items():
            try:
                line, col = node.lc.key(key)
                positions[(*loc, str(key))] = (line + 1, col + 1)
            except (KeyError, TypeError):
                pass
            name = str(key)
            _check_text(name, (*loc, name))
            out[name] = _plain(value, (*loc, name), positions)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, value in enumerate(node):
            try:
                line, col = node.lc.item(i)
                positions[(*loc, i)] = (line + 1, col + 1)
            except (KeyError, TypeError, IndexError):
                pass
            items.append(_plain(value, (*loc, i), positions))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        text = str(node)
        _check_text(text, loc)
        return text
    return node


class _NotText(Exception):
    """A string that is not text: it holds a lone UTF-16 surrogate (a YAML escape such as `\\ud800`)."""

    def __init__(self, loc: Loc, char: str) -> None:
        self.loc = loc
        self.char = char


def _check_text(text: str, loc: Loc) -> None:
    # a surrogate cannot be encoded to UTF-8: it would fail later, when the model is hashed or stored
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _NotText(loc, text[exc.start]) from None


def _marked(exc: MarkedYAMLError, problem: str, source: str | None) -> ModelError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    col = mark.column + 1 if mark else None
    return ModelError([ModelIssue("", problem, line, col)], source)


# Python refuses to convert integers of more digits than this (a guard against quadratic conversion)
_MAX_DIGITS = sys.get_int_max_str_digits() or 4300
_LONG_NUMBER = re.compile(rf"[0-9_]{{{_MAX_DIGITS + 1},}}")


def _line_col(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def parse_yaml(text: str, source: str | None = None, limits: YamlLimits = MODEL_LIMITS) -> tuple[Any, dict[Loc, Pos]]:
    """Plain Python from YAML text, with the position of every key and item.

    Within `limits` (size, depth, node count), and without aliases, anchors, tags or directives
    other than `%YAML 1.2` (see `leadscore.model.yamlguard` for why).
    """
    check_text_size(text, source, limits)
    positions: dict[Loc, Pos] = {}
    try:
        data = _yaml(limits).load(text)
    except RefusedYAML as exc:
        raise _marked(exc, str(exc.problem), source) from None
    except MaxDepthExceededError as exc:
        problem = f"nested more than {limits.max_depth} levels deep (the limit for this kind of file)"
        raise _marked(exc, problem, source) from None
    except RecursionError:  # not reached within the depth bound; a last guard against a traceback
        raise ModelError([ModelIssue("", "nested too deeply")], source) from None
    except MarkedYAMLError as exc:
        said = ", ".join(str(part) for part in (exc.context, exc.problem) if part) or "not YAML"
        raise _marked(exc, f"invalid YAML: {said}", source) from None
    except ReaderError as exc:  # a character YAML does not allow (NUL, other control characters)
        line, col = _line_col(text, int(exc.position))
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        problem = f"invalid YAML: character {char} is not allowed in YAML ({exc.reason})"
        raise ModelError([ModelIssue("", problem, line, col)], source) from None
    except ValueError as exc:
        long_number = _LONG_NUMBER.search(text)
        if long_number is None:
            raise ModelError([ModelIssue("", f"invalid YAML: {exc}")], source) from None
        line, col = _line_col(text, long_number.start())
        problem = f"a number of more than {_MAX_DIGITS} digits"
        raise ModelError([ModelIssue("", problem, line, col)], source) from None
    except Exception as exc:  # ruamel raises a few unmarked errors (e.g. duplicate keys in some versions)
        raise ModelError([ModelIssue("", f"invalid YAML: {exc}")], source) from None
    try:
        return _plain(data, (), positions), positions
    except _NotText as exc:
        message = f"holds \\u{ord(exc.char):04x}, a lone UTF-16 surrogate, which is not a character"
        raise ModelError([_locate(exc.loc, data, positions, message)], source) from None


def load_model(path: str | Path) -> ScoringModel:
    """Read and validate a model file. Raises ModelError listing every problem with its line."""
    p = Path(path)
    return parse_model(read_model_text(p), source=str(p))


def read_model_text(path: str | Path) -> str:
    """The text of a model file: UTF-8, at most `MODEL_LIMITS.max_bytes`, or a ModelError saying why not."""
    p = Path(path)
    return read_yaml_text(p, str(p), MODEL_LIMITS)


def parse_model(text: str, source: str | None = None) -> ScoringModel:
    """A validated model from its YAML text, or a ModelError listing every problem with its line.

    The same text parses to the same (frozen) model, so the last few are kept: parsing with the guarded,
    position-tracking composer costs about 0.1 ms per YAML node (0.2 s for the b2b example), and a
    long-running process (the API's model routes, the store's stored versions, the dashboard) parses the
    same text again and again. Errors are not kept: a refused text is parsed again each time.
    """
    return _parse_model(text, source)


@functools.lru_cache(maxsize=16)
def _parse_model(text: str, source: str | None) -> ScoringModel:
    data, positions = parse_yaml(text, source)
    if not isinstance(data, dict):
        raise ModelError(
            [ModelIssue("", "a model file must be a YAML mapping (format, name, rules, ...)", 1, 1)], source
        )
    return validate_model(data, positions, source)


def validate_model(
    data: dict[str, Any], positions: dict[Loc, Pos] | None = None, source: str | None = None
) -> ScoringModel:
    positions = positions or {}
    try:
        model = ScoringModel.model_validate(data)
    except ValidationError as exc:
        issues = [_issue(err, data, positions) for err in exc.errors()]
        raise ModelError(_dedupe(issues), source) from None
    found = check_model(model)
    if found:
        issues = [_locate(_parse_path(path), data, positions, message) for path, message in found]
        raise ModelError(_dedupe(issues), source)
    return model


def _dedupe(issues: Iterable[ModelIssue]) -> list[ModelIssue]:
    seen: set[tuple[str, str]] = set()
    out = []
    for issue in issues:
        key = (issue.path, issue.message)
        if key not in seen:
            seen.add(key)
            out.append(issue)
    return sorted(out, key=lambda i: (i.line or 0, i.column or 0))


def _data_path(loc: Loc, data: Any) -> Loc:
    """Keep only the loc parts that are real keys/indices: pydantic adds union tags and type names."""
    real: list[str | int] = []
    node = data
    for part in loc:
        in_map = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_map or in_list:
            real.append(part)
            node = node[part]
    return tuple(real)


def _render(path: Loc) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _locate(path: Loc, data: Any, positions: dict[Loc, Pos], message: str) -> ModelIssue:
    real = _data_path(path, data)
    probe = real
    while probe and probe not in positions:
        probe = probe[:-1]
    line, col = positions.get(probe, (None, None)) if probe else (1, 1)
    return ModelIssue(_render(real), message, line, col)


def _parse_path(text: str) -> Loc:
    parts: list[str | int] = []
    for chunk in text.replace("]", "").split("."):
        name, *indices = chunk.split("[")
        if name:
            parts.append(name)
        parts.extend(int(i) for i in indices)
    return tuple(parts)


def _issue(err: Any, data: Any, positions: dict[Loc, Pos]) -> ModelIssue:
    loc: Loc = tuple(err["loc"])
    kind = err["type"]
    real = _data_path(loc, data)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        hint = _suggest(key)
        return _locate((*real, key) if key not in real[-1:] else real, data, positions, f"unknown key {key!r}{hint}")
    if kind == "missing":
        field = str(loc[-1])
        return _locate(real, data, positions, f"missing required field {field!r}")
    message = err["msg"]
    if kind == "string_pattern_mismatch":
        pattern = str((err.get("ctx") or {}).get("pattern", ""))
        allowed = "lowercase letters, digits, '-'" + (" and '_'" if "_" in pattern else "")
        message = f"expected only {allowed} (pattern {pattern})"
    if kind == "too_long":
        ctx = err.get("ctx") or {}
        message = f"at most {ctx.get('max_length')} items (the limit), got {ctx.get('actual_length')}"
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if (
        "input" in err
        and kind not in ("condition_kind", "rule_kind", "decay_kind", "model_type")
        and not isinstance(err["input"], dict | list)
    ) and repr(err["input"]) not in message:
        got = repr(err["input"])
        message += f" (got {got if len(got) <= 80 else got[:77] + '...'})"
    return _locate(real, data, positions, message)


def _known_keys() -> set[str]:
    keys: set[str] = set()
    stack: list[type[BaseModel]] = [ScoringModel]
    import leadscore.model.conditions as c
    import leadscore.model.spec as s

    for module in (c, s):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel):
                stack.append(value)
    for cls in stack:
        for name, field in cls.model_fields.items():
            keys.add(field.alias or name)
    return keys


def _suggest(key: str) -> str:
    close = difflib.get_close_matches(key, sorted(_known_keys()), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""
