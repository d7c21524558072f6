"""Build the course website into ``_build/html``: ``python -m scripts.build_book`` (what ``make book`` runs).

Three steps:

1. Make sure MathJax 3 is available locally (:mod:`scripts.mathjax`: from the ``django-static-mathjax`` wheel of
   the ``book`` extra, else the ``mathjax`` npm package; no CDN is ever referenced by the site).
2. Copy it into ``_build/html/_static/mathjax/``, where ``mathjax_path`` in ``_config.yml`` points. This happens
   before Sphinx runs, so the checksum Sphinx appends to the script's address is the same in every build.
3. Run ``jupyter-book build . -n -W --keep-going``: nitpicky, every warning an error, so a failing cell, a broken
   reference or an autodoc import failure fails the build. Notebooks are executed with the cache under
   ``_build/.jupyter_cache`` (see ``_config.yml``). Nothing in the build itself uses the network.

On success it writes ``_build/book-stamp.json`` (the time and the build's duration), which the site tests use to
decide whether the site is stale. Without a stamp (first build, or the last one failed or was interrupted) every
page is read again, so a warning is never hidden by Sphinx's incremental build.

Options (for development only; ``make book`` uses none):

``--api-only-importable``
    Build with a temporary table of contents that leaves out the API pages of ``gdlib`` modules that cannot be
    imported yet, so the rest of the site can be checked while those modules are being written. The stamp is
    not written, so the site tests rebuild the full site.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts import mathjax

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
HTML = BUILD / "html"
STAMP = BUILD / "book-stamp.json"


def _api_modules(toc_text):
    """The ``gdlib`` modules each API page documents, read from its ``automodule`` directives."""
    pages = {}
    for line in toc_text.splitlines():
        line = line.strip()
        if line.startswith("- file: api/") and line != "- file: api/index":
            page = line.removeprefix("- file: ")
            text = (ROOT / f"{page}.md").read_text(encoding="utf-8")
            modules = [part.split()[0] for part in text.split(".. automodule:: ")[1:]]
            pages[page] = modules
    return pages


def _toc_without_missing_api(toc_path):
    """Write a copy of ``_toc.yml`` without the API pages whose modules do not import; return its path."""
    toc_text = toc_path.read_text(encoding="utf-8")
    dropped = []
    for page, modules in _api_modules(toc_text).items():
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception as error:  # noqa: BLE001 - any import failure: the page would warn
                dropped.append(f"{page} ({module}: {type(error).__name__}: {error})")
                toc_text = "\n".join(
                    line for line in toc_text.splitlines() if line.strip() != f"- file: {page}"
                ) + "\n"
                break
    for entry in dropped:
        print(f"build_book: leaving out {entry}", file=sys.stderr)
    handle, name = tempfile.mkstemp(prefix="_toc_", suffix=".yml", dir=BUILD)
    os.close(handle)
    Path(name).write_text(toc_text, encoding="utf-8")
    return Path(name)


def build(api_only_importable=False):
    """Build the site; return the exit status of ``jupyter-book build`` (0 on success)."""
    started = time.perf_counter()
    BUILD.mkdir(exist_ok=True)
    try:
        mathjax_dir = mathjax.ensure_installed(BUILD / ".mathjax")
    except mathjax.MathJaxUnavailable as error:
        print(f"build_book: {error}", file=sys.stderr)
        return 1

    # jupyter-book has no `python -m jupyter_book`; call its console entry point with this interpreter.
    # MathJax goes into the output folder before Sphinx runs, so every page's script tag carries the same
    # checksum (`?v=...`) whether or not the site was built before: the build is reproducible.
    mathjax.copy_into_site(mathjax_dir, HTML / "_static" / "mathjax")
    command = [
        sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
        "build", str(ROOT), "-n", "-W", "--keep-going",
    ]
    # Sphinx reports a page's warnings only when it reads the page again. After a failed or interrupted build
    # (no stamp), an unchanged page with a warning would not be read again and the build would look clean:
    # so every page is read again (--all; executed notebooks still come from the cache).
    if not STAMP.is_file():
        command.append("--all")
    STAMP.unlink(missing_ok=True)
    toc = None
    if api_only_importable:
        toc = _toc_without_missing_api(ROOT / "_toc.yml")
        command += ["--toc", str(toc)]
    environment = dict(os.environ)
    # Chapters import this checkout's gdlib, whatever the current directory of the kernel.
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environment.get("PYTHONPATH")]))
    environment.setdefault("OPENBLAS_NUM_THREADS", "1")
    # Same hash salt everywhere (set ordering, SVG ids). MPLBACKEND is left alone: the kernel's inline backend
    # is what turns a figure into an output (MPLBACKEND=Agg would make plt.show() show nothing).
    environment.pop("MPLBACKEND", None)
    environment.setdefault("PYTHONHASHSEED", "0")
    environment.setdefault("SOURCE_DATE_EPOCH", "1735689600")
    try:
        status = subprocess.call(command, cwd=ROOT, env=environment)
    finally:
        if toc is not None:
            toc.unlink()
    if status != 0:
        STAMP.unlink(missing_ok=True)
        print("build_book: the build failed (warnings are errors); see the messages above.", file=sys.stderr)
        return status

    seconds = time.perf_counter() - started
    if api_only_importable:
        STAMP.unlink(missing_ok=True)
    else:
        STAMP.write_text(json.dumps({"built_at": time.time(), "seconds": round(seconds, 1)}) + "\n")
    print(f"build_book: built {HTML} in {seconds:.1f} s")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--api-only-importable",
        action="store_true",
        help="development aid: leave out API pages of gdlib modules that cannot be imported yet",
    )
    arguments = parser.parse_args(argv)
    return build(api_only_importable=arguments.api_only_importable)


if __name__ == "__main__":
    sys.exit(main())
