"""Every assertion a learner can see says what is wrong (issue 12).

The visible tests of each graded part are what a learner runs before handing in: an ``assert``
without a message fails with a bare ``AssertionError`` that names nothing, which is a defect.
The hidden blocks are left out (the learner never sees them; their messages are tested by each
assignment's grader tests). The chapter sections and equation numbers every message cites are
checked against the chapters, so renumbering a chapter fails here.
"""
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from grading_fixtures.diagnoses import split, test_sources, unlabelled_asserts  # noqa: E402

ASSIGNMENTS = sorted(p.parent.name for p in (ROOT / "solutions").glob("*/*.ipynb"))


def test_every_assignment_is_checked():
    assert len(ASSIGNMENTS) == 7


def test_a_bare_assert_is_found_and_a_labelled_one_is_not():
    source = 'assert x == 1, "x is 1"\nif y:\n    assert y > 0\nassert (z\n        == 2), f"z is {z}"\n'
    assert unlabelled_asserts(source) == ["assert y > 0"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_visible_assert_has_a_message(assignment):
    bare = {part: unlabelled_asserts(split(source)[0])
            for part, source in test_sources(ROOT, assignment).items()}
    assert bare and not any(bare.values()), {part: found for part, found in bare.items() if found}


# --- the chapter sections and equations the messages point to exist ------------------------------

CITATION = re.compile(r"see chapter (\d), ")
JOINED = re.compile(r"[\"']\s*(\\\s*)?\n\s*[fr]?[\"']|\\\n\s*")
EQUATION = re.compile(r", equation \((\d)\.(\d+)\)")


def _sections(chapter: int) -> list[tuple[str, int]]:
    """(heading, number of labelled equations before it) for each heading of chapter ``chapter``, in order.

    The book numbers an equation labelled ``$$ (eq-...)`` by its place among the chapter's labelled ones."""
    [path] = (ROOT / "chapters").glob(f"0{chapter}_*.ipynb")
    sections, equations = [], 0
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if re.match(r"#{1,4} ", line):
                sections.append((line.lstrip("#").strip(), equations))
            equations += len(re.findall(r"^\s*\$\$ \(eq-[\w-]+\)", line))
    sections.append(("", equations))  # the end of the chapter
    return sections


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_section_and_equation_a_message_cites_is_in_its_chapter(assignment):
    """Each "see chapter N, <a heading of chapter N>[, equation (N.k)]" names a heading, and an equation under it."""
    cited = 0
    for source in test_sources(ROOT, assignment).values():
        source = JOINED.sub("", source)  # a message written as adjacent string literals, read as one
        for m in CITATION.finditer(source):
            chapter, rest = int(m.group(1)), source[m.end():]
            headings = _sections(chapter)
            named = [k for k, (heading, _) in enumerate(headings) if heading and rest.startswith(heading)
                     and not rest[len(heading):len(heading) + 1].isalnum()]
            assert named, f"chapter {chapter} has no section {rest[:50]!r}..."
            k = max(named, key=lambda k: len(headings[k][0]))  # the longest heading the text starts with
            equation = EQUATION.match(rest[len(headings[k][0]):])
            if equation:
                first, last = headings[k][1] + 1, headings[k + 1][1]
                assert int(equation.group(1)) == chapter and first <= int(equation.group(2)) <= last, \
                    f"equation ({equation.group(1)}.{equation.group(2)}) is not in chapter {chapter}, " \
                    f"{headings[k][0]} ({chapter}.{first} to {chapter}.{last})"
            cited += 1
    assert cited, "the messages point to the chapter"
