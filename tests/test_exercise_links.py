"""Exercise notebooks link to their chapter on the published site, wherever a learner opens them.

The address of the site is ``html.baseurl`` in ``_config.yml``; ``scripts.exercise_links`` writes
``<site>/chapters/<assignment>.html`` into the first cell of each ``solutions/`` notebook, and the release copies it
into ``exercises/`` (the notebooks the chapters offer for download).
"""
import json
import re
from pathlib import Path

import pytest

from scripts import exercise_links

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = sorted(path.parent.name for path in (ROOT / "solutions").glob("*/*.ipynb"))


def test_the_site_address_is_absolute_and_ends_with_a_slash():
    url = exercise_links.site_url()
    assert re.match(r"https://[^/]+/", url) and url.endswith("/"), url


@pytest.mark.parametrize("folder", ["solutions", "exercises"])
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_first_cell_links_to_the_published_chapter(folder, assignment):
    (notebook,) = (ROOT / folder / assignment).glob("*.ipynb")
    assert exercise_links.problems(notebook) == []
    source = "".join(json.loads(notebook.read_text(encoding="utf-8"))["cells"][0]["source"])
    assert "../" not in source, "a relative link leads nowhere once the notebook is downloaded"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_linked_chapter_is_a_page_of_the_book(assignment):
    url = exercise_links.chapter_url(assignment)
    page = url.removeprefix(exercise_links.site_url())
    assert (ROOT / page).with_suffix(".ipynb").is_file(), f"{url}: no chapter {page}"
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    assert f"- file: {Path(page).with_suffix('').as_posix()}\n" in toc, f"{page} is not in _toc.yml"


def _course(tmp_path, baseurl, link):
    (tmp_path / "_config.yml").write_text(f"title: x\nhtml:\n  use_edit_page_button: false\n  baseurl: {baseurl}\n")
    folder = tmp_path / "solutions" / "09_demo"
    folder.mkdir(parents=True)
    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": [
        "# Demo\n", "\n", f"*Graded exercise for the chapter [Demo]({link}).*\n", "\n", "Text.",
    ]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = folder / "demo.ipynb"
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def test_rewrite_turns_a_relative_link_into_the_published_page_and_nothing_else(tmp_path):
    path = _course(tmp_path, "https://example.org/course", "../../chapters/09_demo.ipynb")
    before = json.loads(path.read_text())
    assert exercise_links.problems(path, tmp_path)  # the relative link is reported
    assert exercise_links.rewrite(path, tmp_path) is True
    after = json.loads(path.read_text())
    assert after["cells"][0]["source"][2] == (
        "*Graded exercise for the chapter [Demo](https://example.org/course/chapters/09_demo.html).*\n")
    before["cells"][0]["source"][2] = after["cells"][0]["source"][2]
    assert after == before
    assert exercise_links.problems(path, tmp_path) == []
    assert exercise_links.rewrite(path, tmp_path) is False  # already right: the file is left alone


def test_a_new_address_is_written_over_the_old_one(tmp_path):
    path = _course(tmp_path, "https://new.example.org/", "https://old.example.org/chapters/09_demo.html")
    assert exercise_links.problems(path, tmp_path) == [
        f"{path}: the first cell links to https://old.example.org/chapters/09_demo.html, not to the published "
        "chapter https://new.example.org/chapters/09_demo.html"]
    exercise_links.rewrite(path, tmp_path)
    assert exercise_links.first_cell_links(path) == [("Demo", "https://new.example.org/chapters/09_demo.html")]


def test_a_missing_or_relative_site_address_is_refused(tmp_path):
    (tmp_path / "_config.yml").write_text("title: x\nhtml:\n  use_edit_page_button: false\n")
    with pytest.raises(ValueError, match="no html.baseurl"):
        exercise_links.site_url(tmp_path)
    (tmp_path / "_config.yml").write_text("html:\n  baseurl: course/\n")
    with pytest.raises(ValueError, match="absolute http"):
        exercise_links.site_url(tmp_path)


def test_a_first_cell_without_its_chapter_link_is_reported(tmp_path):
    path = _course(tmp_path, "https://example.org/", "../../chapters/08_other.ipynb")
    assert "exactly once; found 0" in exercise_links.problems(path, tmp_path)[0]
    with pytest.raises(ValueError, match="exactly once"):
        exercise_links.rewrite(path, tmp_path)
