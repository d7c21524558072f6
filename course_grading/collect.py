"""``collect``: take the learners' notebooks from a folder or a zip file, keep everything, misattribute nothing.

The hand-in rule (:mod:`course_grading.handin`) accepts, anywhere in the folder
or archive, ``<id>_<notebook>.ipynb``, ``<id>/<notebook>.ipynb`` and
``<id>/<assignment>/<notebook>.ipynb``. Each notebook so named is copied to
``grading/submitted/<id>/<assignment>/<notebook>.ipynb`` (replacing an earlier
submission of that learner and assignment), with the time it was handed in
(the file's or the archive entry's modification time).

Nothing is dropped silently. Every other file is kept under
``grading/unattributed/`` and listed in ``grading/collect.json`` with its
original path and why it was not attributed:

* ``misnamed``: it looks like a learner's work under a wrong name (the learner
  and, where it can be guessed, the assignment are recorded, so the report says
  "misnamed: <file>" instead of "missing");
* ``clash``: two different files for one learner and assignment in one
  collect: neither is taken, both are kept, the report says so;
* ``conflict``: a file named for one learner inside another learner's folder
  (``zed/bob_demo.ipynb`` next to ``zed/demo.ipynb``): never given to either;
* ``unattributed``: no learner id at all.

Links, FIFOs and devices (in a folder or an archive) are never followed or
read: they are listed as ``rejected``. Archives are read entry by entry into
memory within caps on the number of entries, the size of each and the total
(zip bombs), and no name from an archive is ever used as a file name on disk.
"""
from __future__ import annotations

import dataclasses
import datetime
import difflib
import hashlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from .course import Course
from .handin import STUDENT_ID
from .results import read_json, write_json

MAX_ENTRIES = 10_000
MAX_FILE_BYTES = 64 * 2**20
MAX_TOTAL_BYTES = 1 * 2**30
JUNK = re.compile(r"(^|/)(__MACOSX|\.ipynb_checkpoints|\.DS_Store|Thumbs\.db|desktop\.ini)(/|$)")


class CollectError(RuntimeError):
    """The source cannot be collected at all (not a folder or zip, an archive past the caps)."""


@dataclasses.dataclass
class Entry:
    """One file found in the source: its path parts, when it was handed in, and its bytes."""

    parts: tuple[str, ...]
    time: str
    data: bytes | None = None      # None: rejected (see problem)
    problem: str | None = None

    @property
    def path(self) -> str:
        return "/".join(self.parts)


def _utc(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat(
        timespec="seconds")


def _read_regular(path: str, limit: int) -> tuple[bytes | None, str | None]:
    """The bytes of a regular file, never through a link and never blocking on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        return None, f"cannot be read ({err.strerror})"
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file"
        data = fh.read(limit + 1)
    if len(data) > limit:
        return None, f"larger than {limit} bytes"
    return data, None


def _kind(mode: int) -> str:
    return ("a symbolic link" if stat.S_ISLNK(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a device file")


def entries_of_folder(folder: Path) -> list[Entry]:
    out = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        rel = Path(dirpath).relative_to(folder).parts
        for name in list(dirnames):
            if os.path.islink(os.path.join(dirpath, name)):  # os.walk lists links to folders here
                dirnames.remove(name)
                filenames.append(name)
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            entry = Entry(rel + (name,), _utc(info.st_mtime))
            if not stat.S_ISREG(info.st_mode):
                entry.problem = f"rejected: {_kind(info.st_mode)} is never followed or read"
            else:
                entry.data, problem = _read_regular(path, MAX_FILE_BYTES)
                entry.problem = problem and f"rejected: {problem}"
            out.append(entry)
    return out


def entries_of_zip(archive: Path) -> list[Entry]:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as err:
        raise CollectError(f"{archive} is not a readable zip file ({err})") from err
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > MAX_ENTRIES:
            raise CollectError(f"{archive} holds {len(infos)} files; at most {MAX_ENTRIES} are "
                               "collected from one archive (split it, or unpack it and collect "
                               "the folder)")
        declared = sum(i.file_size for i in infos)
        if declared > MAX_TOTAL_BYTES:
            raise CollectError(f"{archive} unpacks to {declared} bytes; at most {MAX_TOTAL_BYTES} "
                               "are collected from one archive")
        out, total = [], 0
        for info in infos:
            parts = tuple(p for p in PurePosixPath(info.filename.replace("\\", "/")).parts
                          if p not in ("", "."))
            try:
                when = datetime.datetime(*info.date_time).astimezone(datetime.timezone.utc)
                entry = Entry(parts or ("(no name)",), when.isoformat(timespec="seconds"))
            except ValueError:
                entry = Entry(parts or ("(no name)",), "")
            mode = info.external_attr >> 16
            if not parts or ".." in parts or info.filename.startswith("/"):
                entry.problem = "rejected: a path outside the archive"
            elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # 0: no type recorded (Windows tools)
                entry.problem = f"rejected: {_kind(mode)} is never followed or read"
            elif info.file_size > MAX_FILE_BYTES:
                entry.problem = f"rejected: larger than {MAX_FILE_BYTES} bytes"
            else:
                try:
                    with zf.open(info) as fh:
                        data = fh.read(MAX_FILE_BYTES + 1)
                except (zipfile.BadZipFile, RuntimeError, OSError, NotImplementedError) as err:
                    entry.problem = f"rejected: cannot be unpacked ({err})"
                else:
                    total += len(data)
                    if len(data) > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES:
                        entry.problem = "rejected: unpacks to more than its stated size"
                    else:
                        entry.data = data
            out.append(entry)
        return out


def _roster(course: Course) -> set[str]:
    names = set()
    for path in (course.root / "roster.txt", course.grading / "roster.txt"):
        if path.exists():
            names |= {line.strip() for line in path.read_text().splitlines()
                      if line.strip() and not line.startswith("#")}
    return names


def attribute(entries: list[Entry], course: Course) -> list[dict]:
    """Decide, for every entry, whose work it is: one dict per entry (see the module docstring)."""
    index = course.notebook_index()                    # notebook -> assignment
    by_lower = {nb.lower(): nb for nb in index}
    assignments = set(index.values())
    roster = _roster(course)

    def strip_assignment(folders):
        return (folders[:-1], folders[-1]) if folders and folders[-1] in assignments else (folders, None)

    # a folder is a learner's when it holds a notebook under its bare name, an assignment
    # folder, or is named in the roster; any other folder only contains files
    learner_folders = set()
    for e in entries:
        if e.data is None or JUNK.search(e.path):
            continue
        folders, _ = strip_assignment(e.parts[:-1])
        if folders and Path(e.parts[-1]).stem.lower() in by_lower:
            learner_folders.add(folders)
    learner_folders |= {f for e in entries for f in [e.parts[:i] for i in range(1, len(e.parts))]
                        if f[-1] in roster}

    decisions = []
    for e in entries:
        d = {"file": e.path, "time": e.time}
        if e.data is None:
            d.update(kind="rejected", detail=e.problem)
        elif JUNK.search(e.path) or any(p.startswith(".") for p in e.parts):
            d["kind"] = "ignored"
        else:
            d.update(_attribute_one(e, by_lower, index, learner_folders, strip_assignment))
        decisions.append(d)
    return decisions


def _attribute_one(e: Entry, by_lower, index, learner_folders, strip_assignment) -> dict:
    name = e.parts[-1]
    stem, suffix = (name[:-6], ".ipynb") if name.lower().endswith(".ipynb") else (name, "")
    folders, _ = strip_assignment(e.parts[:-1])
    owner = folders[-1] if folders and folders in learner_folders else None
    if suffix and stem.lower() in by_lower:
        nb = by_lower[stem.lower()]
        if folders and STUDENT_ID.match(folders[-1]):
            return {"kind": "submission", "student": folders[-1], "notebook": nb,
                    "assignment": index[nb]}
        return {"kind": "unattributed", "notebook": nb, "assignment": index[nb],
                "detail": f"no learner id: name it <id>_{nb}.ipynb or put it in a folder named "
                          "with the id"}
    match = next((nb for nb in sorted(by_lower, key=len, reverse=True)
                  if suffix and stem.lower().endswith("_" + nb) and len(stem) > len(nb) + 1), None)
    if match:
        nb, student = by_lower[match], stem[:-len(match) - 1]
        if not STUDENT_ID.match(student):
            return {"kind": "unattributed", "notebook": nb, "assignment": index[nb],
                    "detail": f"{student!r} is not a learner id (letters, digits, . _ -)"}
        if owner is not None and owner != student:
            return {"kind": "conflict", "student": student, "assignment": index[nb],
                    "detail": f"named for {student} but inside {owner}'s folder: given to neither"}
        return {"kind": "submission", "student": student, "notebook": nb, "assignment": index[nb]}
    # not a name the rule accepts: whose is it, and which assignment did they mean?
    student = owner or (stem.split("_", 1)[0] if "_" in stem and STUDENT_ID.match(stem.split("_", 1)[0])
                        else None)
    if student is None and folders and STUDENT_ID.match(folders[-1]) and suffix:
        student = folders[-1]
    guess_stem = stem[len(student) + 1:] if student and stem.startswith(student + "_") else stem
    guess = difflib.get_close_matches(guess_stem.lower(), list(by_lower), n=1, cutoff=0.5)
    nb = by_lower[guess[0]] if guess else None
    if student is None:
        return {"kind": "unattributed", "detail": "no learner id and no notebook name of this course"}
    expected = f"{student}_{nb}.ipynb" if nb else f"{student}_<notebook>.ipynb"
    return {"kind": "misnamed", "student": student, "assignment": index.get(nb),
            "detail": f"expected a name like {expected}"}


def _keep(course: Course, entry: Entry) -> str:
    """Store an entry that was not attributed; the name on disk never comes from the source."""
    digest = hashlib.sha256(entry.data or b"").hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", entry.parts[-1])[-80:].lstrip(".") or "file"
    folder = course.grading / "unattributed"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{digest}-{safe}"
    if not target.exists():
        _write_new(target, entry.data or b"")
    return str(target.relative_to(course.root))


def _write_new(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, target)


def _real_folder(path: Path) -> Path:
    """``path`` as a real folder: a link or file in its place (never made by collect) is removed."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _store(course: Course, student: str, assignment: str, notebook: str, data: bytes) -> None:
    """Make ``grading/submitted/<student>/<assignment>/`` hold exactly this notebook."""
    student_dir = _real_folder(_real_folder(course.submitted) / student)
    fresh = Path(tempfile.mkdtemp(prefix=".incoming-", dir=student_dir))
    _write_new(fresh / f"{notebook}.ipynb", data)
    final = student_dir / assignment
    if final.is_symlink() or final.is_file():
        final.unlink()
    elif final.exists():
        shutil.rmtree(final)  # never follows links inside
    os.rename(fresh, final)


def collect(course: Course, source: Path) -> dict:
    """Collect ``source`` (a folder or a zip file); return and record what became of every file."""
    source = Path(source)
    if source.is_dir():
        entries = entries_of_folder(source)
    elif source.is_file() and zipfile.is_zipfile(source):
        entries = entries_of_zip(source)
    else:
        raise CollectError(f"{source} is neither a folder nor a zip file")
    course.ensure_dirs()
    decisions = attribute(entries, course)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, d in enumerate(decisions):
        if d["kind"] == "submission":
            groups.setdefault((d["student"], d["assignment"]), []).append(i)
    for (student, assignment), members in groups.items():
        if len({hashlib.sha256(entries[i].data).digest() for i in members}) > 1:
            files = ", ".join(decisions[i]["file"] for i in members)
            for i in members:
                decisions[i].update(kind="clash", detail=f"{len(members)} different files for "
                                                         f"{student} in {assignment}: {files}")
    log = read_json(course.grading / "collect.json", {}) or {}
    submissions, problems = log.get("submissions", {}), log.get("problems", [])
    taken = set()
    for entry, d in zip(entries, decisions):
        d["source"] = str(source)
        if d["kind"] == "submission":
            key = f"{d['assignment']}/{d['student']}"
            if key in taken:
                continue  # an identical copy of a file already taken
            taken.add(key)
            _store(course, d["student"], d["assignment"], d["notebook"], entry.data)
            submissions[key] = {"file": d["file"], "time": d["time"], "source": str(source),
                                "sha256": hashlib.sha256(entry.data).hexdigest()}
        elif d["kind"] != "ignored":
            if entry.data is not None:
                d["kept"] = _keep(course, entry)
    fresh = {(d.get("student"), d.get("assignment")) for d in decisions if d["kind"] == "submission"}
    new_problems = [d for d in decisions if d["kind"] not in ("submission", "ignored")]
    replaced = {(p["source"], p["file"]) for p in new_problems}
    problems = [p for p in problems if (p.get("source"), p["file"]) not in replaced
                and (p.get("student"), p.get("assignment")) not in fresh] + new_problems
    write_json(course.grading / "collect.json", {"submissions": submissions, "problems": problems})
    return {"collected": [d for d in decisions if d["kind"] == "submission"],
            "problems": new_problems,
            "ignored": [d for d in decisions if d["kind"] == "ignored"]}


def collect_log(course: Course) -> dict:
    log = read_json(course.grading / "collect.json", {}) or {}
    return {"submissions": log.get("submissions", {}), "problems": log.get("problems", [])}
