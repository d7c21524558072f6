"""Every ```python block of README.md runs, in order, in one namespace, in a fresh process."""

import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
ROOT = README.parent


def python_blocks(text):
    """The bodies of the fenced blocks whose info string is ``python``, in order."""
    return re.findall(r"^```python[ \t]*\n(.*?)^```[ \t]*$", text, flags=re.MULTILINE | re.DOTALL)


def test_python_blocks_are_found():
    text = "a\n```python\nx = 1\n```\n```bash\nls\n```\n```python\ny = x\n```\n"
    assert python_blocks(text) == ["x = 1\n", "y = x\n"]


def test_readme_python_blocks_run(tmp_path):
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert blocks, "README.md has no ```python block"
    # One script, each block compiled under its own name, so a traceback says which block failed.
    runner = "\n".join(
        [
            "import os, sys",
            f"sys.path.insert(0, {str(ROOT)!r})",
            "namespace = {'__name__': '__main__'}",
            f"blocks = {blocks!r}",
            "for number, block in enumerate(blocks, 1):",
            "    exec(compile(block, f'README.md python block {number}', 'exec'), namespace)",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", runner],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={"OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, f"README code failed:\n{result.stderr[-3000:]}"
