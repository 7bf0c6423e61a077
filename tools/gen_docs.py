"""Regenerate the generated blocks of README.md and docs/ from the code.

Usage: ``python tools/gen_docs.py`` (rewrites in place) or ``--check`` (exit 1 if stale).
A block sits between ``<!-- gen:NAME -->`` and ``<!-- /gen:NAME -->``; NAME picks the
generator below.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from gaplab.metrics import markdown_table

ROOT = Path(__file__).resolve().parents[1]
GENERATORS = {"metrics-table": markdown_table}
FILES = [ROOT / "README.md", ROOT / "docs" / "measure.md"]
BLOCK = re.compile(r"(<!-- gen:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(\n<!-- /gen:(?P=name) -->)", re.S)


def render(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + GENERATORS[m.group("name")]() + m.group(4), text)


def main(argv: list[str]) -> int:
    stale = []
    for path in FILES:
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
