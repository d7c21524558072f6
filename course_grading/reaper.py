"""Free what an autograde run holds, even when the run itself is killed with SIGKILL.

``autograde`` starts this process first, in a session of its own (so killing
the run's process group spares it), with a pipe on its standard input. The run
tells it, one line each, what to free::

    dir PATH          a folder to remove (the run's sockets, reports, kernel folders)
    uids FIRST LAST   the sandbox users of the run (every process of theirs is killed)
    pgid N            a grading process's group (killed)
    ended N           that group ended on its own (forgotten: its number may be reused)

When the pipe closes (the run ended, normally or not), the reaper kills the
process groups, then every process of the run's sandbox users until none is
left, removes the folders, and exits. It also holds the lock on the run's block
of sandbox users (:func:`course_grading.pool.allocate_uids`), which another run
can take only once everything is freed.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
import time


def processes_of(uids: range) -> list[int]:
    """Process ids whose real user is in ``uids``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) in uids:
                            found.append(int(entry))
                        break
        except (OSError, ValueError, IndexError):
            continue
    return found


def free(folders: list[str], uid_ranges: list[range], pgids: list[int]) -> None:
    for pgid in pgids:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + 10
    while uid_ranges and time.monotonic() < deadline:
        left = [pid for uids in uid_ranges for pid in processes_of(uids)]
        if not left:
            break
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.05)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C of the run is the run's to handle
    folders, uid_ranges, pgids = [], [], []
    for line in sys.stdin:
        word, _, rest = line.strip().partition(" ")
        if word == "dir":
            folders.append(rest)
        elif word == "uids":
            first, last = map(int, rest.split())
            uid_ranges.append(range(first, last + 1))
        elif word == "pgid":
            pgids.append(int(rest))
        elif word == "ended" and int(rest) in pgids:
            pgids.remove(int(rest))
    free(folders, uid_ranges, pgids)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
