"""Record the golden numbers that tests/test_golden.py compares against.

Run ``python tests/golden/record.py`` only when a change is *meant* to move these numbers
(and say so in the commit); the restructuring of the run pipeline must leave them alone.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1]))

from tests.test_golden import CASES, numbers_of, run_case  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name in CASES:
            values = numbers_of(run_case(name, Path(tmp) / name))
            (HERE / f"{name}.json").write_text(json.dumps(values, indent=1, sort_keys=True) + "\n")
            print(f"{name}: {len(values)} numbers")


if __name__ == "__main__":
    main()
