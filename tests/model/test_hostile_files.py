"""Hostile model files, as `leadscore validate` meets them: each refused with file:line, never a traceback,
in bounded memory, and in bounded time (each run in its own process under a hard timeout)."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from leadscore.model.limits import MAX_RULES, MODEL_LIMITS
from tests.model.hostile import MINIMAL, alias_bomb, leadscore, refused

pytestmark = pytest.mark.integration  # each case runs `leadscore validate` in its own process


def write(tmp_path: Path, text: str | bytes, name: str = "model.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("levels", [1, 3, 6, 9, 12])
def test_alias_bombs_are_refused_at_the_first_anchor(tmp_path: Path, levels: int) -> None:
    path = write(tmp_path, alias_bomb(levels))
    run = refused(path)
    assert f"{path}:3:5: anchors (&a0) are not allowed" in run.stderr


@pytest.mark.parametrize(
    ("body", "line", "said"),
    [
        ("base: &b {on: visit, points: 1}\n", 5, "anchors (&b)"),
        ("extra: *nowhere\n", 5, "aliases (*nowhere)"),
        ("extra:\n  <<: {a: 1}\n", 6, "merge keys (<<)"),
    ],
)
def test_anchors_aliases_and_merge_keys_are_refused(tmp_path: Path, body: str, line: int, said: str) -> None:
    run = refused(write(tmp_path, MINIMAL + body))
    assert f"model.yaml:{line}:" in run.stderr and said in run.stderr


@pytest.mark.parametrize(
    "tagged",
    [
        "!!python/object/apply:os.system [echo pwned]",
        "!!python/object/new:builtins.list [[1]]",
        "!!python/name:os.system",
        "!!python/tuple [1, 2]",
        "!!binary aGVsbG8=",
        "!!set {a, b}",
        "!!omap [{a: 1}]",
        "!!str visit",
        "!!int '3'",
        "!custom thing",
        "! visit",
        "!<tag:example.com,2026:thing> x",
    ],
)
def test_tags_of_every_kind_are_refused_where_they_stand(tmp_path: Path, tagged: str) -> None:
    path = write(tmp_path, f"format: 1\nname: x\nrules:\n  - id: r\n    on: {tagged}\n    points: 1\n")
    run = refused(path)
    assert "model.yaml:5:9: tags (" in run.stderr, run.stderr
    assert "are not allowed in a model file" in run.stderr


@pytest.mark.parametrize(
    ("head", "said"),
    [("%YAML 1.1\n---\n", "%YAML 1.1 directive"), ("%TAG !e! tag:example.com,2026:\n---\n", "%TAG directives")],
)
def test_directives_that_change_the_reading_are_refused(tmp_path: Path, head: str, said: str) -> None:
    run = refused(write(tmp_path, head + MINIMAL))
    assert said in run.stderr and "model.yaml:2:" in run.stderr


def test_yaml_1_2_directive_is_accepted(tmp_path: Path) -> None:
    run = leadscore("validate", write(tmp_path, "%YAML 1.2\n---\n" + MINIMAL))
    assert run.code == 0, run.output


@pytest.mark.parametrize("size_mb", [1, 50])
def test_huge_files_are_refused_before_they_are_read(tmp_path: Path, size_mb: int) -> None:
    path = tmp_path / "model.yaml"
    with path.open("w") as f:
        f.write(MINIMAL + "description: '")
        for _ in range(size_mb):
            f.write("x" * (1024 * 1024))
        f.write("'\n")
    run = refused(path)
    assert f"larger than {MODEL_LIMITS.size_text}" in run.stderr


@pytest.mark.parametrize(
    ("nested", "where"),
    [
        ("[" * 100_000 + "]" * 100_000, ":3:39:"),
        ("{a: " * 50_000 + "1" + "}" * 50_000, ":3:129:"),
        ("\n" + "".join("  " * i + "-\n" for i in range(1, 300)), ":35:65:"),
    ],
    ids=["flow-sequences", "flow-mappings", "block-sequences"],
)
def test_deep_nesting_is_refused_at_the_limit(tmp_path: Path, nested: str, where: str) -> None:
    run = refused(write(tmp_path, f"format: 1\nname: x\nrules: {nested}\n"))
    assert f"{where} nested more than {MODEL_LIMITS.max_depth} levels deep" in run.stderr, run.stderr


def test_deeply_nested_conditions_are_refused_with_their_line(tmp_path: Path) -> None:
    cond = "{attribute: a, eq: 1}"
    for _ in range(40):
        cond = f"{{not: {cond}}}"
    run = refused(write(tmp_path, f"format: 1\nname: x\nrules:\n  - id: r\n    points: 1\n    when: {cond}\n"))
    assert "model.yaml:6:" in run.stderr and "nested more than" in run.stderr


def test_too_many_rules_are_refused(tmp_path: Path) -> None:
    rules = "".join(f"  - {{id: r{i}, on: visit, points: 1}}\n" for i in range(MAX_RULES + 1))
    run = refused(write(tmp_path, "format: 1\nname: x\nrules:\n" + rules))
    assert f"model.yaml:3:1: rules: at most {MAX_RULES} items (the limit), got {MAX_RULES + 1}" in run.stderr


def test_too_many_values_are_refused(tmp_path: Path) -> None:
    values = ", ".join(["1"] * (MODEL_LIMITS.max_nodes + 10))
    run = refused(write(tmp_path, MINIMAL + f"description: [{values}]\n"))
    assert f"more than {MODEL_LIMITS.max_nodes:,} values" in run.stderr


def test_a_number_too_long_to_convert_is_located(tmp_path: Path) -> None:
    run = refused(write(tmp_path, "format: 1\nname: x\nrules:\n  - {id: r, on: visit, points: " + "9" * 5000 + "}\n"))
    assert "model.yaml:4:" in run.stderr and "digits" in run.stderr


@pytest.mark.parametrize(
    ("data", "where", "said"),
    [
        (b"format: 1\nname: x\nrules:\n  - {id: r\xff, on: visit, points: 1}\n", ":4:11:", "byte 0xff"),
        (b"format: 1\nname: caf\xe9\nrules: []\n", ":2:10:", "byte 0xe9"),
        (codecs.BOM_UTF16_LE + MINIMAL.encode("utf-16-le"), ":1:1:", "UTF-16"),
        (codecs.BOM_UTF16_BE + MINIMAL.encode("utf-16-be"), ":1:1:", "UTF-16"),
        (codecs.BOM_UTF32_LE + MINIMAL.encode("utf-32-le"), ":1:1:", "UTF-32"),
        (MINIMAL.replace("name: x", "name: x\x00").encode(), ":2:8:", "U+0000"),
        (MINIMAL.replace("name: x", "name: x\x1b").encode(), ":2:8:", "U+001B"),
        (bytes(range(256)) * 4, ":2:118:", "byte 0x80"),
    ],
    ids=["bad-byte", "latin-1", "utf16le", "utf16be", "utf32", "nul", "escape", "binary"],
)
def test_bytes_that_are_not_utf8_yaml_are_located(tmp_path: Path, data: bytes, where: str, said: str) -> None:
    run = refused(write(tmp_path, data))
    assert where in run.stderr and said in run.stderr, run.stderr


def test_a_utf8_byte_order_mark_is_allowed(tmp_path: Path) -> None:
    run = leadscore("validate", write(tmp_path, codecs.BOM_UTF8 + MINIMAL.encode()))
    assert run.code == 0, run.output


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("format: 1\nname: x\nname: y\nrules: [{id: r, on: visit, points: 1}]\n", ":3:1:"),
        ("format: 1\nname: x\nrules:\n  - {id: r, on: visit, points: 1, points: 2}\n", ":4:"),
        (
            "format: 1\nname: x\nlabels:\n  t: [{label: a}]\n  t: [{label: b}]\nrules: [{id: r, on: v, points: 1}]\n",
            ":5:",
        ),
    ],
)
def test_duplicate_keys_are_refused_with_their_line(tmp_path: Path, text: str, where: str) -> None:
    run = refused(write(tmp_path, text))
    assert where in run.stderr and "duplicate key" in run.stderr


@pytest.mark.parametrize(
    "text",
    ["", "~\n", "just text\n", "[1, 2]\n", MINIMAL + "---\n" + MINIMAL, "a: [\n", "\t- x\n"],
    ids=["empty", "null", "scalar", "list", "two-documents", "unclosed", "tab"],
)
def test_files_that_are_not_one_model_mapping_are_refused(tmp_path: Path, text: str) -> None:
    run = refused(write(tmp_path, text))
    assert "model.yaml:" in run.stderr


def test_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    run = refused(tmp_path / "dir.yaml")
    assert "is a directory" in run.stderr


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"store: sqlite:///x\xff.db\n", ":1:19: not UTF-8"),
        (b"store: &s sqlite:///x.db\nmodel: *s\n", ":1:8: anchors (&s) are not allowed in a workspace file"),
        (b"store: !!python/object/apply:os.system [ls]\n", ":1:8: tags (!!python/object/apply:os.system)"),
    ],
)
def test_a_hostile_workspace_file_is_refused_without_a_traceback(tmp_path: Path, data: bytes, said: str) -> None:
    write(tmp_path, data, "leadscore.yaml")
    run = leadscore("queue", "--project", tmp_path)
    assert run.code != 0 and "Traceback" not in run.output, run.output
    assert "leadscore.yaml" + said in run.output, run.output


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ('description: "\\ud800"\n', ":5:1: description: holds \\ud800"),
        ('"k\\udfff": 1\n', ":5:1: k"),
        ('labels:\n  t: [{label: "\\udc00"}]\n', ":6:"),
    ],
)
def test_lone_surrogates_from_yaml_escapes_are_refused(tmp_path: Path, line: str, where: str) -> None:
    # they decode from YAML but are not characters: hashing or storing the model used to fail with a traceback
    run = refused(write(tmp_path, MINIMAL + line))
    assert where in run.stderr and "lone UTF-16 surrogate" in run.stderr, run.stderr
