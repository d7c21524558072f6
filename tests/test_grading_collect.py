"""collect keeps everything, misattributes nothing, and follows no link; one hand-in rule everywhere.

Built on the real course (its seven release notebooks) and on the demo course; no grading needed.
"""
import datetime
import json
import os
import re
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_grading import Course, collect as collect_module, commands  # noqa: E402
from course_grading.cli import main as cli  # noqa: E402
from course_grading.handin import hand_in_rule  # noqa: E402
from course_grading.testing import copy_course  # noqa: E402

FIXTURE = ROOT / "tests" / "grading_fixtures" / "course"
REAL = Course(ROOT)


# --- one rule: the notebooks, the site and collect say the same --------------------------------

@pytest.mark.parametrize("assignment", REAL.assignments())
def test_every_release_notebook_states_the_hand_in_rule(assignment):
    for name in REAL.notebooks(assignment):
        for folder in (REAL.solutions, REAL.exercises):
            first = nbformat.read(folder / assignment / f"{name}.ipynb", as_version=4).cells[0]
            assert hand_in_rule(assignment, name) in first.source, (folder, name)


def test_the_site_states_the_same_three_forms():
    text = (ROOT / "intro.md").read_text()
    for form in ("`alice/backpropagation.ipynb`", "`alice/01_backpropagation/backpropagation.ipynb`",
                 "`alice_backpropagation.ipynb`"):
        assert form in text
    instructors = (ROOT / "instructors.md").read_text()
    assert "alice/04_optimizers/optimizers.ipynb" in instructors


@pytest.fixture
def course(tmp_path):
    return copy_course(ROOT, tmp_path / "course")


def _release(course, assignment):
    name = course.notebooks(assignment)[0]
    return (course.exercises / assignment / f"{name}.ipynb").read_bytes(), name


def test_collect_accepts_exactly_the_three_forms_the_notebooks_state(course, tmp_path):
    incoming = tmp_path / "in"
    expected = {}
    for i, assignment in enumerate(course.assignments()):
        data, name = _release(course, assignment)
        forms = [f"s{i}a_{name}.ipynb", f"s{i}b/{name}.ipynb", f"s{i}c/{assignment}/{name}.ipynb"]
        for form in forms:
            path = incoming / form
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            expected[(form.split("/")[0].split("_")[0], assignment)] = data
    out = commands.collect(course, incoming)
    assert out["problems"] == []
    got = {(c["student"], c["assignment"]) for c in out["collected"]}
    assert got == set(expected)
    for (student, assignment), data in expected.items():
        name = course.notebooks(assignment)[0]
        assert (course.submitted / student / assignment / f"{name}.ipynb").read_bytes() == data
    _, rows = commands.report(course)
    statuses = {(r["student"], r["assignment"]): r["reason"] for r in rows}
    assert all(statuses[key] == "pending: not autograded yet" for key in expected)


# --- the demo course: misnamed, clash, conflict, unattributed, links ----------------------------

@pytest.fixture
def demo(tmp_path):
    return copy_course(FIXTURE, tmp_path / "course")


def _nb(demo):
    return (demo.solutions / "01_demo" / "demo.ipynb").read_bytes()


def _write(folder, rel, data):
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_nothing_is_lost_and_nobody_gets_anothers_file(demo, tmp_path):
    data = _nb(demo)
    other = data.replace(b"log1p", b"log1p ")        # a different file
    incoming = tmp_path / "in"
    _write(incoming, "export/alice/demo.ipynb", data)
    _write(incoming, "export/bob_demo.ipynb", data)
    _write(incoming, "zed/demo.ipynb", data)
    _write(incoming, "zed/bob_demo.ipynb", other)       # bob's name inside zed's folder
    _write(incoming, "carol_demo.ipynb", data)
    _write(incoming, "carol/demo.ipynb", other)         # two different files for carol
    _write(incoming, "dave_dmeo.ipynb", data)           # misnamed
    _write(incoming, "demo.ipynb", data)                # no id at all
    _write(incoming, "notes.txt", b"my notes")          # not a notebook
    _write(incoming, "__MACOSX/._demo.ipynb", b"junk")  # ignored
    out = commands.collect(demo, incoming)
    collected = sorted((c["student"], c["file"]) for c in out["collected"])
    assert collected == [("alice", "export/alice/demo.ipynb"), ("bob", "export/bob_demo.ipynb"),
                         ("zed", "zed/demo.ipynb")]
    problems = {p["file"]: p for p in out["problems"]}
    assert problems["zed/bob_demo.ipynb"]["kind"] == "conflict"
    assert problems["carol_demo.ipynb"]["kind"] == problems["carol/demo.ipynb"]["kind"] == "clash"
    assert problems["dave_dmeo.ipynb"]["kind"] == "misnamed"
    assert problems["dave_dmeo.ipynb"]["student"] == "dave"
    assert problems["dave_dmeo.ipynb"]["assignment"] == "01_demo"
    assert problems["demo.ipynb"]["kind"] == "unattributed"
    assert problems["notes.txt"]["kind"] == "unattributed"
    # every file that was not attributed is kept, with its content, and listed
    for p in problems.values():
        kept = demo.root / p["kept"]
        assert kept.read_bytes() == (incoming / p["file"]).read_bytes()
    assert (demo.submitted / "bob" / "01_demo" / "demo.ipynb").read_bytes() == data
    assert not (demo.submitted / "carol").exists()
    text, rows = commands.report(demo)
    rows = {r["student"]: r["reason"] for r in rows}
    assert rows["dave"].startswith("misnamed: dave_dmeo.ipynb") and "dave_demo.ipynb" in rows["dave"]
    assert rows["carol"].startswith("clash: 2 different files for carol")
    assert "notes.txt" in text and "grading/unattributed/" in text


def test_a_clash_is_settled_by_collecting_one_file_again(demo, tmp_path):
    data = _nb(demo)
    _write(tmp_path / "a", "carol_demo.ipynb", data)
    _write(tmp_path / "a", "carol/demo.ipynb", data + b" ")
    commands.collect(demo, tmp_path / "a")
    _write(tmp_path / "b", "carol_demo.ipynb", data)
    commands.collect(demo, tmp_path / "b")
    _, rows = commands.report(demo)
    assert {r["student"]: r["reason"] for r in rows}["carol"] == "pending: not autograded yet"


def test_identical_copies_are_not_a_clash(demo, tmp_path):
    data = _nb(demo)
    _write(tmp_path / "in", "erin_demo.ipynb", data)
    _write(tmp_path / "in", "erin/demo.ipynb", data)
    out = commands.collect(demo, tmp_path / "in")
    assert [c["student"] for c in out["collected"]] == ["erin", "erin"] and out["problems"] == []


def test_links_fifos_and_devices_in_a_folder_are_never_followed(demo, tmp_path):
    incoming = tmp_path / "in"
    secret = tmp_path / "secret.ipynb"
    secret.write_bytes(_nb(demo))
    incoming.mkdir()
    os.symlink(secret, incoming / "mallory_demo.ipynb")
    os.symlink(tmp_path, incoming / "linked-folder")
    os.mkfifo(incoming / "fifo_demo.ipynb")
    _write(incoming, "alice_demo.ipynb", _nb(demo))
    out = commands.collect(demo, incoming)   # a FIFO would block a plain open(): it must not
    assert [c["student"] for c in out["collected"]] == ["alice"]
    kinds = {p["file"]: p["detail"] for p in out["problems"]}
    assert "symbolic link" in kinds["mallory_demo.ipynb"]
    assert "symbolic link" in kinds["linked-folder"]
    assert "FIFO" in kinds["fifo_demo.ipynb"]
    assert not (demo.submitted / "mallory").exists()
    assert not any(p.is_symlink() for p in demo.grading.rglob("*"))


def _zip(path, entries):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, *mode in entries:
            info = zipfile.ZipInfo(name, date_time=(2026, 11, 30, 12, 0, 0))
            if mode:
                info.external_attr = mode[0] << 16
            zf.writestr(info, data)
    return path


def test_an_archive_with_links_traversal_and_an_over_long_name(demo, tmp_path):
    long_name = "x" * 300 + "_demo.ipynb"
    archive = _zip(tmp_path / "in.zip", [
        ("export/alice_demo.ipynb", _nb(demo)),
        ("export/link_demo.ipynb", "/etc/passwd", 0o120777),
        ("../../escape_demo.ipynb", _nb(demo)),
        (f"export/{long_name}", _nb(demo)),
        ("export/bob/01_demo/demo.ipynb", _nb(demo)),
    ])
    out = commands.collect(demo, archive)
    assert sorted(c["student"] for c in out["collected"]) == ["alice", "bob"]
    kinds = {p["file"][-40:]: p for p in out["problems"]}
    assert "symbolic link" in kinds["export/link_demo.ipynb"]["detail"]
    assert "outside the archive" in kinds["../../escape_demo.ipynb"]["detail"]
    longest = kinds[f"export/{long_name}"[-40:]]
    assert longest["kind"] == "unattributed" and len(Path(longest["kept"]).name) < 120
    assert not (tmp_path / "escape_demo.ipynb").exists()
    entry = json.loads((demo.grading / "collect.json").read_text())["submissions"]["01_demo/alice"]
    assert entry["time"].startswith("2026-11-30")


def test_zip_bombs_are_refused_with_a_clear_message(demo, tmp_path, monkeypatch):
    monkeypatch.setattr(collect_module, "MAX_ENTRIES", 5)
    many = _zip(tmp_path / "many.zip", [(f"s{i}_demo.ipynb", b"{}") for i in range(6)])
    with pytest.raises(commands.CollectError, match="holds 6 files; at most 5"):
        commands.collect(demo, many)
    monkeypatch.setattr(collect_module, "MAX_TOTAL_BYTES", 10_000)
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a_demo.ipynb", b"0" * 20_000)       # compresses to a few dozen bytes
    with pytest.raises(commands.CollectError, match="unpacks to 20000 bytes"):
        commands.collect(demo, big)
    assert not demo.submitted.exists() or not any(demo.submitted.iterdir())


def test_an_entry_that_unpacks_past_its_size_is_rejected(demo, tmp_path, monkeypatch):
    monkeypatch.setattr(collect_module, "MAX_FILE_BYTES", 1000)
    archive = _zip(tmp_path / "in.zip", [("a_demo.ipynb", b"1" * 5000), ("b_demo.ipynb", _nb(demo)[:900])])
    out = commands.collect(demo, archive)
    assert [c["student"] for c in out["collected"]] == ["b"]
    assert "larger than 1000 bytes" in out["problems"][0]["detail"]


def test_the_cli_prints_every_problem_and_accepts_course_after_the_command(demo, tmp_path, capsys):
    _write(tmp_path / "in", "dave_dmeo.ipynb", _nb(demo))
    assert cli(["collect", "--course", str(demo.root), str(tmp_path / "in")]) == 0
    printed = capsys.readouterr().out
    assert "collected 0 notebook(s)" in printed
    assert re.search(r"MISNAMED dave_dmeo.ipynb: expected a name like dave_demo.ipynb; kept as "
                     r"grading/unattributed/\w+-dave_dmeo.ipynb", printed)


def test_late_work_is_marked_in_the_report_and_the_export(demo, tmp_path):
    on_time = _write(tmp_path / "in", "alice_demo.ipynb", _nb(demo))
    late = _write(tmp_path / "in", "bob_demo.ipynb", _nb(demo))
    due = datetime.datetime(2026, 11, 30, 23, 59, tzinfo=datetime.timezone.utc)
    os.utime(on_time, (due.timestamp() - 3600,) * 2)
    os.utime(late, (due.timestamp() + 5 * 3600,) * 2)
    commands.collect(demo, tmp_path / "in")
    text, rows = commands.report(demo, commands.parse_due(["2026-11-30T23:59+00:00"]))
    rows = {r["student"]: r for r in rows}
    assert rows["alice"]["late"] == "" and rows["bob"]["late"] == "late by 5.0 h"
    assert "LATE (late by 5.0 h)" in text
    csv_text = commands.export(demo, due=commands.parse_due(["01_demo=2026-11-30T23:59+00:00"])).read_text()
    assert "late by 5.0 h" in csv_text.splitlines()[2]
    with pytest.raises(commands.GradingError, match="ISO date"):
        commands.parse_due(["next friday"])
