"""Moved: the grading benchmark is ``benchmarks/grading.py`` (prints a table per assignment).

``python -m course_grading.benchmark [args]`` still runs it, with the same arguments.
"""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "grading.py"


def main(argv=None) -> int:
    sys.argv = [str(SCRIPT)] + list(sys.argv[1:] if argv is None else argv)
    runpy.run_path(str(SCRIPT), run_name="__main__")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
