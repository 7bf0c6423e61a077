"""Regenerate the generated blocks of README.md and docs/ from the code.

Usage: ``python tools/gen_docs.py`` (rewrites in place) or ``--check`` (exit 1 if stale).
A block sits between ``<!-- gen:NAME -->`` and ``<!-- /gen:NAME -->``; NAME picks the
generator below.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from gaplab.metrics import markdown_table
from gaplab.runs import Claim, RunRecord

ROOT = Path(__file__).resolve().parents[1]
FULL = ROOT / "docs" / "results" / "full"


def _value(v: object) -> str:
    s = f"{v:.4g}" if isinstance(v, float) else str(v)
    return s.replace("|", "\\|").replace("\n", " ")


def _ours(c: Claim) -> str:
    if c.effect is None:
        return _value(c.measured)
    ci = f" [{c.ci95[0]:.3g}, {c.ci95[1]:.3g}]" if c.ci95 else ""
    return f"{c.effect:.4g}{ci}"


def reproductions_table() -> str:
    """One table over every recipe with committed full-scale results (tools/full_scale.py)."""
    lines = ["| recipe | claim | paper | ours (effect [95 % CI]) | verdict | seeds | wall time |",
             "|---|---|---|---|---|---|---|"]
    for path in sorted(FULL.glob("*.json")):
        rec = RunRecord.from_dict(json.loads(path.read_text()), source=str(path))
        for c in rec.claims:
            verdict = c.verdict + (" (sanity)" if c.kind == "sanity" else "")
            lines.append(f"| `{rec.name}` | {_value(c.claim)} | {_value(c.paper_value)} | {_ours(c)} | {verdict} | "
                         f"{c.n_seeds} | {rec.wall_time_s:.0f} s |")
    return "\n".join(lines)


GENERATORS = {"metrics-table": markdown_table, "reproductions-table": reproductions_table}
FILES = [ROOT / "README.md", ROOT / "docs" / "measure.md", ROOT / "docs" / "reproductions.md"]
BLOCK = re.compile(r"(<!-- gen:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(\n<!-- /gen:(?P=name) -->)", re.S)


def render(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + GENERATORS[m.group("name")]() + m.group(4), text)


def main(argv: list[str]) -> int:
    stale = []
    for path in FILES:
        if not path.exists():
            continue
        old = path.read_text(encoding="utf-8")
        new = render(old)
        if new != old:
            stale.append(path.name)
            if "--check" not in argv:
                path.write_text(new, encoding="utf-8")
    if stale and "--check" in argv:
        print(f"stale generated blocks in {', '.join(stale)}: run python tools/gen_docs.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
