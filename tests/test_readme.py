"""The README cannot rot: its Python blocks run, its commands exist, its demo table is a record.

* Every ```python block of README.md and docs/formats.md runs, each in a fresh namespace in
  an empty temporary folder. A block that is not meant to run says so on the line before it
  with ``<!-- no-test: REASON -->`` (a reason is required); ``<!-- test: slow -->`` marks a
  block that trains or reproduces (pytest ``-m "not slow"`` skips it).
* Every other docs/**/*.md Python block must at least compile (many are fragments that use
  the reader's own arrays).
* Every ``gaplab CMD --option`` in the README's shell blocks names a real command and option.
* The demo table is the one ``gaplab demo`` printed into the committed run record
  ``docs/results/demo.json`` (named in the comment above the table).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUN = [README, ROOT / "docs" / "formats.md"]  # blocks that run, not just compile
FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
MARK = re.compile(r"<!--\s*(no-test|test)\s*:\s*(.*?)\s*-->")


@dataclass
class Block:
    path: Path
    line: int
    lang: str
    code: str
    mark: tuple[str, str] | None  # ("no-test", reason) or ("test", "slow")

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path, lang: str | None = None) -> list[Block]:
    """The fenced code blocks of a Markdown file, with the marker comment on the line before each."""
    text = path.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        if lang is not None and m.group(1) != lang:
            continue
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mk = MARK.search(before)
        out.append(Block(path, text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2),
                         (mk.group(1), mk.group(2)) if mk else None))
    return out


def _python_params():
    params = []
    for path in RUN:
        if not path.exists():
            continue
        for b in blocks(path, "python"):
            marks = [pytest.mark.slow] if b.mark == ("test", "slow") else []
            params.append(pytest.param(b, id=b.id, marks=marks))
    return params


@pytest.mark.parametrize("block", _python_params())
def test_python_block_runs(block: Block, tmp_path, monkeypatch):
    if block.mark and block.mark[0] == "no-test":
        assert block.mark[1], f"{block.id}: <!-- no-test: ... --> needs a reason"
        pytest.skip(f"{block.id}: {block.mark[1]}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    code = compile(block.code, block.id, "exec")
    exec(code, {"__name__": "__readme__"})  # noqa: S102 - the README's own code


def test_markers_are_known():
    for path in [README, *sorted((ROOT / "docs").rglob("*.md"))]:
        for b in blocks(path):
            if b.mark is None:
                continue
            kind, value = b.mark
            assert kind == "no-test" and value or (kind, value) == ("test", "slow"), \
                f"{b.id}: unknown marker <!-- {kind}: {value} -->; use no-test: REASON or test: slow"


def test_no_test_exceptions_stay_rare():
    skipped = [b.id for p in RUN if p.exists() for b in blocks(p, "python") if b.mark and b.mark[0] == "no-test"]
    assert len(skipped) <= 2, f"too many README blocks excluded from testing: {skipped}"


def _doc_blocks():
    return [pytest.param(b, id=b.id) for p in sorted((ROOT / "docs").rglob("*.md")) if p not in RUN
            for b in blocks(p, "python")]


@pytest.mark.parametrize("block", _doc_blocks())
def test_docs_python_block_compiles(block: Block):
    compile(block.code, block.id, "exec")


# ---- commands ---------------------------------------------------------------------------------

_CMD = re.compile(r"(?:^|[;&|(]\s*|\s)gaplab\s+([a-z][\w-]*)([^#;&|]*)")


def _commands(text: str) -> list[tuple[str, list[str]]]:
    out = []
    for line in text.splitlines():
        for m in _CMD.finditer(line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""):
            flags = re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", m.group(2))
            out.append((m.group(1), flags))
    return out


def test_readme_commands_and_options_exist():
    import click

    from gaplab.cli import main

    ctx = click.Context(main)
    seen = 0
    for b in blocks(README, "bash"):
        for name, flags in _commands(b.code):
            cmd = main.get_command(ctx, name)
            assert cmd is not None, f"{b.id}: `gaplab {name}` is not a command"
            assert "unavailable" not in (cmd.help or ""), f"{b.id}: `gaplab {name}`: {cmd.help}"
            known = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}
            for f in flags:
                assert f in known, f"{b.id}: `gaplab {name}` has no option {f} (has {sorted(known)})"
            seen += 1
    assert seen >= 10  # the parser found the README's commands


def test_command_parser_finds_flags():
    assert _commands("gaplab measure x.npz --json  # a comment --nope") == [("measure", ["--json"])]
    assert _commands('. v/bin/activate && gaplab demo --out d') == [("demo", ["--out"])]


# ---- the demo table -----------------------------------------------------------------------------

DEMO_MARK = re.compile(r"<!-- demo-table: (?P<record>[\w/.-]+) -->\n(?P<table>(?:\|.*\n)+)")


def render_demo_table(record: dict) -> str:
    """The README's demo table from a demo run record: the rows `gaplab demo` prints."""
    lines = ["| stage | L2M | RMG | zero-shot |", "|---|---|---|---|"]
    for s in record["measured"]["stages"]:
        zs = "—" if s.get("zero_shot") is None else f"{s['zero_shot']:.3f}"
        lines.append(f"| {s['stage']} | {s['l2m']:.3f} | {s['rmg']:.3f} | {zs} |")
    return "\n".join(lines) + "\n"


def test_demo_table_is_the_committed_demo_record():
    m = DEMO_MARK.search(README.read_text(encoding="utf-8"))
    assert m, "README.md: the demo table must follow <!-- demo-table: docs/results/demo.json -->"
    path = ROOT / m.group("record")
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["name"] == "demo" and record["config"]["quick"] is False and record["seed"] == 0
    want = render_demo_table(record)
    assert m.group("table") == want, f"README demo table differs from {path.name}; it should read:\n{want}"
