"""Past one machine: tuning and autograding on Dask's distributed scheduler (the `cluster` extra).

A LocalCluster of two worker processes (one thread each) stands in for a cluster. Tuning: the
tuners run on `Client.get_executor()` with the same trials as a process pool for grid and random
search. Autograding: `autograde(..., scheduler=...)` gives the same grades as a local run, retries
a submission whose worker dies once and reports it not graded when its retry dies too, and an
interrupted run resumes as on one machine.
"""
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_grading import Limits, commands  # noqa: E402
from course_grading.testing import copy_course, make_submission, mutate, solution_cells  # noqa: E402
from gdlib import tuning  # noqa: E402

FIXTURE = ROOT / "tests" / "grading_fixtures" / "course"
LIMITS = Limits(cell_timeout=60, notebook_budget=300)


def objective(hp):
    """A deterministic score of mixed hyperparameters (importable, so every executor can run it)."""
    x = hp.Float("x", -2.0, 2.0)
    units = hp.Int("units", 8, 64, step=8)
    kind = hp.Choice("kind", ["a", "b", "c"])
    return (x - 0.3) ** 2 + abs(units - 32) / 64 + {"a": 0.2, "b": 0.0, "c": 0.1}[kind]


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _trials(tuner):
    return [(t["trial_id"], t["hyperparameters"], t["score"], t["status"]) for t in tuner.trials]


@pytest.mark.parametrize("kind", ["grid", "random"])
def test_tuners_on_dask_find_the_same_trials_as_a_process_pool(client, kind):
    def make(executor):
        if kind == "grid":
            return tuning.GridSearch(objective_fn=objective, max_trials=12, executor=executor)
        return tuning.RandomSearch(objective_fn=objective, max_trials=10, seed=3, executor=executor)

    with ProcessPoolExecutor(2) as pool:
        local = make(pool)
        local.search()
    remote = make(client.get_executor())
    assert remote._batch() == 2                      # one trial per worker thread of the cluster
    remote.search()
    assert _trials(remote) == _trials(local) and len(remote.trials) in (10, 12)


def test_bayesian_optimization_runs_on_dask(client):
    tuner = tuning.BayesianOptimization(objective_fn=objective, max_trials=8, num_initial_points=4,
                                        seed=0, executor=client.get_executor())
    tuner.search()
    assert len(tuner.trials) == 8 and all(t["status"] == "COMPLETED" for t in tuner.trials)


# --- autograding on the cluster ---------------------------------------------------------------

def _submissions(course):
    cells = solution_cells(course, "01_demo")
    make_submission(course, "01_demo", "sol")
    make_submission(course, "01_demo", "blank", release=True)
    make_submission(course, "01_demo", "no-two", mutate(cells, {"mse_gradient": [
        ("2.0 * (y_pred - y_true)", "(y_pred - y_true)")]}))
    make_submission(course, "01_demo", "crash", {"softplus": "import os\nos._exit(1)\n"})
    make_submission(course, "01_demo", "loop", {"softplus": "while True:\n    pass\n"})


def _scores(course):
    return {r["student"]: (r["status"], r.get("score"), (r.get("reason") or "").split(":")[0])
            for r in commands.report_rows(course)}


def test_the_cluster_gives_the_same_grades_as_one_machine(client, tmp_path):
    limits = Limits(cell_timeout=5, interrupt_grace=2, notebook_budget=120)
    here, there = (copy_course(FIXTURE, tmp_path / name) for name in ("here", "there"))
    for course in (here, there):
        _submissions(course)
    commands.autograde(here, limits, jobs=2)
    commands.autograde(there, limits, scheduler=client)
    assert _scores(there) == _scores(here)
    assert _scores(there)["sol"][:2] == ("graded", 5.0)
    assert _scores(there)["crash"][0] == "not graded"
    assert commands.export(there).read_text() == commands.export(here).read_text()
    # the instructor's process wrote everything; grading again changes nothing
    assert (there.autograded / "sol" / "01_demo" / "demo.ipynb").is_file()
    commands.autograde(there, limits, scheduler=client, force=True)
    assert _scores(there) == _scores(here)


def _pid_grading(client, student):
    """The pid of the Dask worker process now grading ``student``'s task, or None."""
    pids = client.run(os.getpid)
    for worker, keys in client.processing().items():
        if any(f"-{student}-" in str(key) for key in keys):
            return pids[worker]
    return None


def _grade_killing(client, course, student, kills):
    """autograde on the cluster, killing the worker that grades ``student`` ``kills`` times."""
    outcome = {}
    runner = threading.Thread(target=lambda: outcome.update(
        done=commands.autograde(course, LIMITS, scheduler=client.scheduler.address)))
    runner.start()
    deadline = time.monotonic() + 240
    while kills and time.monotonic() < deadline:
        pid = _pid_grading(client, student)
        if pid:
            time.sleep(1.5)                         # it is grading now: kill its worker
            os.kill(pid, signal.SIGKILL)
            kills -= 1
            client.wait_for_workers(2, timeout=60)  # the nanny starts a new one
        time.sleep(0.2)
    runner.join(timeout=300)
    return {r["student"]: r for r in commands.report_rows(course)}[student]


@pytest.mark.parametrize("kills,graded", [(1, True), (2, False)])
def test_a_dead_worker_is_retried_once_then_reported(client, tmp_path, kills, graded):
    course = copy_course(FIXTURE, tmp_path / "course")
    slow = "import time\ntime.sleep(6)\n" + solution_cells(course, "01_demo")["softplus"]
    make_submission(course, "01_demo", "doomed", {"softplus": slow})
    row = _grade_killing(client, course, "doomed", kills)
    if graded:
        assert (row["status"], row.get("score")) == ("graded", 5.0), row
    else:
        assert row["status"] == "not graded"
        assert "died, and so did the one that retried it" in row["reason"]


def test_an_interrupted_cluster_run_resumes_and_loses_nothing(client, tmp_path):
    course = copy_course(FIXTURE, tmp_path / "course")
    for i in range(6):
        make_submission(course, "01_demo", f"s{i}")
    proc = subprocess.Popen([sys.executable, "-m", "course_grading", "autograde", "--course",
                             str(course.root), "--scheduler", client.scheduler.address,
                             "--cell-timeout", "60"], cwd=ROOT)
    deadline = time.monotonic() + 180
    while not list(course.results.glob("01_demo/*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    first = len(list(course.results.glob("01_demo/*.json")))
    done = commands.autograde(course, LIMITS, scheduler=client)
    assert 1 <= first < 6 and len(done) == 6 - first
    assert all(r["status"] == "graded" and r["score"] == 5.0 for r in commands.report_rows(course))
