"""MathJax 3 for the website, served from the site itself instead of a CDN.

MathJax comes from a package registry and is never committed to the repository:

1. PyPI first: the ``book`` extra of ``pyproject.toml`` installs ``django-static-mathjax``, a wheel that carries
   MathJax 3.2.2's files (we use only its files, never Django), so ``make book`` on a machine with nothing but
   Python gets the same MathJax as everywhere else;
2. else npm: the ``mathjax`` package from the npm registry, installed once with npm's own client into a cache
   folder under ``_build/`` (git-ignored).

The build copies the parts the site uses into ``_build/html/_static/mathjax/``. ``mathjax_path`` in
``_config.yml`` is ``mathjax/es5/tex-mml-chtml.js``: Sphinx treats a relative ``mathjax_path`` as relative to
``_static/`` and writes it relative to each page.

Run ``python -m scripts.mathjax`` to install it on its own and print where it is.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

# MathJax 3, as Sphinx 7 expects (its default mathjax_path is mathjax@3/es5/tex-mml-chtml.js).
VERSION = "3.2.2"
ENTRY_POINT = "es5/tex-mml-chtml.js"

# What tex-mml-chtml.js loads at run time: the CHTML fonts, TeX extensions loaded on demand (autoload),
# and the accessibility and menu components with the speech-rule engine.
_RUNTIME_PARTS = [
    ENTRY_POINT,
    "es5/input",
    "es5/output/chtml",
    "es5/a11y",
    "es5/sre",
    "es5/ui",
    "es5/adaptors",
    "LICENSE",
    "package.json",
]


class MathJaxUnavailable(RuntimeError):
    """MathJax could not be installed (npm missing, or the registry unreachable with an empty npm cache)."""


def _installed_version(package_dir):
    try:
        return json.loads((package_dir / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return None


def from_python_package():
    """MathJax's folder inside the installed ``django-static-mathjax`` wheel, or None if it is not installed."""
    spec = importlib.util.find_spec("mathjax")  # finds the package without importing it (no Django needed)
    if spec is None or not spec.submodule_search_locations:
        return None
    package_dir = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax"
    if _installed_version(package_dir) == VERSION and (package_dir / ENTRY_POINT).is_file():
        return package_dir
    return None


def ensure_installed(prefix):
    """MathJax's package folder: from the Python package if installed, else ``mathjax@VERSION`` from npm."""
    package_dir = from_python_package()
    if package_dir is not None:
        return package_dir
    prefix = Path(prefix)
    package_dir = prefix / "node_modules" / "mathjax"
    if _installed_version(package_dir) == VERSION and (package_dir / ENTRY_POINT).is_file():
        return package_dir
    npm = shutil.which("npm")
    if npm is None:
        raise MathJaxUnavailable(
            "MathJax is not installed for the website: neither the Python package django-static-mathjax "
            "(`pip install -e '.[book]'`) nor npm (to install the `mathjax` npm package) is available. "
            "Install one of them and build again."
        )
    prefix.mkdir(parents=True, exist_ok=True)
    command = [
        npm, "install", "--no-save", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error",
        "--prefix", str(prefix), f"mathjax@{VERSION}",
    ]
    # --prefer-offline: use npm's cache when it has the tarball, so a rebuild after `make clean` needs no network.
    result = subprocess.run(command + ["--prefer-offline"], capture_output=True, text=True)
    if result.returncode != 0 or _installed_version(package_dir) != VERSION:
        raise MathJaxUnavailable(
            f"`{' '.join(command)}` failed (exit status {result.returncode}):\n{result.stderr.strip()}"
        )
    return package_dir


def copy_into_site(package_dir, destination):
    """Copy the parts of MathJax the pages load into ``destination`` (``_build/html/_static/mathjax``)."""
    package_dir, destination = Path(package_dir), Path(destination)
    if destination.exists():
        shutil.rmtree(destination)
    for part in _RUNTIME_PARTS:
        source = package_dir / part
        target = destination / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    return destination / ENTRY_POINT


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    try:
        print(ensure_installed(root / "_build" / ".mathjax"))
    except MathJaxUnavailable as error:
        sys.exit(str(error))
