"""Point each exercise notebook at its chapter on the published site: ``python -m scripts.exercise_links``.

A learner opens an exercise notebook far from the course: downloaded from a chapter page into a Downloads folder,
or copied out of ``exercises/``. A relative link such as ``../../chapters/01_backpropagation.ipynb`` leads nowhere
there, so the first cell of every exercise links to the chapter's page on the published site instead:
``<site>/chapters/01_backpropagation.html``, where ``<site>`` is ``html.baseurl`` in ``_config.yml`` (the one place
that says where the site is published).

This script rewrites that link in the first cell of every ``solutions/*/*.ipynb`` (nbgrader's source; nothing else
in the notebook changes). Then regenerate the release, which the chapters offer for download::

    python -m scripts.exercise_links
    python -m course_grading release

``--check`` changes nothing and exits with status 1 if a link is not the published chapter's address; the tests run
the same check on ``solutions/`` and ``exercises/``.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The chapter link in an exercise's first cell: "[Backpropagation](<target>)" where the target is the chapter's
# notebook (relative) or its page (absolute), for the chapter named like the assignment folder.
_LINK = r"\[(?P<title>[^\]]+)\]\((?P<target>[^)\s]*chapters/{chapter}\.(?:ipynb|html))\)"


def site_url(root=ROOT):
    """``html.baseurl`` from ``_config.yml``, ending with a slash."""
    text = (root / "_config.yml").read_text(encoding="utf-8")
    match = re.search(r"^html:\s*\n(?:[ \t]+.*\n|\s*\n)*?[ \t]+baseurl:[ \t]*[\"']?([^\"'\s#]+)", text, re.M)
    if not match:
        raise ValueError("_config.yml has no html.baseurl: set it to the address where the site is published")
    url = match.group(1)
    if not re.match(r"https?://[^/]+", url):
        raise ValueError(f"html.baseurl in _config.yml must be an absolute http(s) address. Received: {url!r}")
    return url if url.endswith("/") else url + "/"


def chapter_url(assignment, root=ROOT):
    """The published page of the chapter an assignment belongs to: ``<site>/chapters/<assignment>.html``."""
    return f"{site_url(root)}chapters/{assignment}.html"


def first_cell_links(notebook_path):
    """``(title, target)`` of each chapter link in the notebook's first cell."""
    notebook = json.loads(Path(notebook_path).read_text(encoding="utf-8"))
    source = "".join(notebook["cells"][0]["source"])
    chapter = re.escape(Path(notebook_path).parent.name)
    return [(m["title"], m["target"]) for m in re.finditer(_LINK.format(chapter=chapter), source)]


def problems(notebook_path, root=ROOT):
    """Why the first cell of this exercise notebook does not link to its published chapter ([] if it does)."""
    assignment = Path(notebook_path).parent.name
    links = first_cell_links(notebook_path)
    want = chapter_url(assignment, root)
    if len(links) != 1:
        return [f"{notebook_path}: the first cell should link to its chapter exactly once; found {len(links)} links"]
    if links[0][1] != want:
        return [f"{notebook_path}: the first cell links to {links[0][1]}, not to the published chapter {want}"]
    return []


def rewrite(notebook_path, root=ROOT):
    """Point the chapter link of the notebook's first cell at the published chapter; return True if it changed."""
    path = Path(notebook_path)
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cell = notebook["cells"][0]
    source = "".join(cell["source"])
    chapter = re.escape(path.parent.name)
    want = chapter_url(path.parent.name, root)
    new, count = re.subn(_LINK.format(chapter=chapter), lambda m: f"[{m['title']}]({want})", source)
    if count != 1:
        raise ValueError(f"{path}: the first cell should link to its chapter exactly once; found {count} links")
    if new == source:
        return False
    cell["source"] = new.splitlines(keepends=True)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a link is not right")
    parser.add_argument("folders", nargs="*", default=["solutions"],
                        help="folders of assignments (default: solutions)")
    arguments = parser.parse_args(argv)
    notebooks = sorted(path for folder in arguments.folders for path in (ROOT / folder).glob("*/*.ipynb")
                       if ".ipynb_checkpoints" not in path.parts)
    if arguments.check:
        found = [problem for path in notebooks for problem in problems(path)]
        print("\n".join(found) or f"{len(notebooks)} notebooks link to their published chapters")
        return 1 if found else 0
    for path in notebooks:
        if rewrite(path):
            print(f"{path.relative_to(ROOT)} -> {chapter_url(path.parent.name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
