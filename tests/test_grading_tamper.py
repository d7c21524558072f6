"""Submissions that tamper with the hidden tests' footing lose the part, and the report flags them.

Hidden tests run in the learner's kernel. A fake ``sys.modules["gdlib.testing"]`` or patched
``math.isclose``/``builtins`` must not buy a wrong answer its points (the hidden tests load
gdlib.testing anew and compare with float operators); what no in-process check can stop is
flagged in the report, found with ``ast`` in the learner's own cells.
"""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_grading import Limits, commands  # noqa: E402
from course_grading.tamper import scan_notebook, scan_source  # noqa: E402
from course_grading.testing import copy_course, grade_variants  # noqa: E402

ASSIGNMENT = "03_learning_rate"
NOTEBOOK = "learning_rate.ipynb"
LIMITS = Limits(cell_timeout=60, notebook_budget=300)
PARTS = ["test_exponential_decay", "test_inverse_time_decay", "test_piecewise_constant_decay",
         "test_learning_rates_during_fit", "test_largest_stable_learning_rate"]

# right on the visible examples (eta_0 = 0.1, s = 10), one step late everywhere else
WRONG_DECAY = '''
def exponential_decay(step, initial_learning_rate, decay_steps, decay_rate, staircase=False):
    if not (initial_learning_rate == 0.1 and decay_steps == 10):
        step = step + 1
    p = step / decay_steps
    if staircase:
        p = math.floor(p)
    return initial_learning_rate * decay_rate ** p
'''

FAKE_TESTING = '''import contextlib, sys, types
_fake = types.ModuleType("gdlib.testing")
_fake.assert_allclose = lambda *args, **kwargs: None
_fake.forbid_gdlib = lambda *args, **kwargs: contextlib.nullcontext()
_fake.fresh_reference = lambda module, name: (lambda *a, **k: (lambda step: 0.0))
sys.modules["gdlib.testing"] = _fake
''' + WRONG_DECAY

PATCH_MATH_BUILTINS = '''import builtins, math
math.isclose = lambda *args, **kwargs: True
builtins.abs = lambda x: 0.0
builtins.all = lambda iterable: True
''' + WRONG_DECAY.replace("if not (initial_learning_rate == 0.1 and decay_steps == 10):",
                          "if True:")


# Each known way learner code could switch hidden tests off, with a wrong answer behind it.
SHADOW_RANGE = "range = lambda *a: ()\n" + WRONG_DECAY
BLANK_TRANSFORMER = (
    "get_ipython().input_transformers_post.append(\n"
    "    lambda lines: [] if any('HIDDEN' in l or 'exponential_decay(' in l for l in lines) else lines)\n"
    + WRONG_DECAY)
FORGIVING_HOOK = (
    "def _forgive(result):\n    result.error_in_exec = None\n"
    "get_ipython().events.register('post_run_cell', _forgive)\n" + WRONG_DECAY)
SILENT_TRACEBACK = (
    "_ip = get_ipython()\n_ip.showtraceback = lambda *a, **k: None\n"
    "_ip._showtraceback = lambda *a, **k: None\n" + WRONG_DECAY)
FAKE_TESTING_FILE = (
    "import gdlib, os\n"
    "os.makedirs('/tmp/work/fake', exist_ok=True)\n"
    "open('/tmp/work/fake/testing.py', 'w').write(\n"
    "    'import contextlib\\n'\n"
    "    'assert_allclose = lambda *a, **k: None\\n'\n"
    "    'forbid_gdlib = lambda *a, **k: contextlib.nullcontext()\\n'\n"
    "    'fresh_reference = lambda m, n: (lambda *a, **k: 0.0)\\n')\n"
    "gdlib.__spec__.submodule_search_locations.insert(0, '/tmp/work/fake')\n"
    "gdlib.__path__.insert(0, '/tmp/work/fake')\n" + WRONG_DECAY)
# a learner function that, when a test calls it, replaces the test's comparison helper
FRAME_WALKER = WRONG_DECAY + (
    "_original = exponential_decay\n"
    "def exponential_decay(*args, **kwargs):\n"
    "    import sys\n"
    "    sys._getframe(1).f_globals['_close'] = lambda *a, **k: None\n"
    "    return _original(*args, **kwargs)\n")
# taking over the kernel's execution: the test cells then never reach the guard
TAKEOVER = (
    "_kernel = get_ipython().kernel\n"
    "_run = _kernel.shell.run_cell\n"
    "async def _do_execute(code, silent, store_history=True, user_expressions=None,\n"
    "                      allow_stdin=False, *, cell_meta=None, cell_id=None):\n"
    "    _run(code.replace('assert ', 'pass  # '))\n"
    "    return {'status': 'ok', 'execution_count': 1, 'user_expressions': {}, 'payload': [],\n"
    "            'cg_guard': {'cell': 'forged', 'passed': True, 'mac': '0' * 64}}\n"
    "_kernel.do_execute = _do_execute\n" + WRONG_DECAY)
LOOPHOLES = {
    "fake-gdlib-testing": FAKE_TESTING,
    "patched-math-builtins": PATCH_MATH_BUILTINS,
    "shadowed-range": SHADOW_RANGE,
    "blanking-transformer": BLANK_TRANSFORMER,
    "forgiving-hook": FORGIVING_HOOK,
    "silent-traceback": SILENT_TRACEBACK,
    "fake-testing-file": FAKE_TESTING_FILE,
    "frame-walker": FRAME_WALKER,
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = copy_course(ROOT, tmp_path_factory.mktemp("tamper") / "course")
    variants = {"clean": {}, "takeover": {"exponential_decay": TAKEOVER},
                "syntax-error": {"exponential_decay": "def exponential_decay(step,\n    return 0.1\n"}}
    variants.update({name: {"exponential_decay": source} for name, source in LOOPHOLES.items()})
    scores = grade_variants(course, ASSIGNMENT, variants, limits=LIMITS)
    _, rows = commands.report(course)
    return course, scores, {r["student"]: r for r in rows if r["assignment"] == ASSIGNMENT}


@pytest.mark.parametrize("variant", sorted(LOOPHOLES))
def test_tampering_with_a_wrong_answer_loses_that_part(graded, variant):
    _, scores, rows = graded
    got = scores[variant]
    assert got["_status"] == "graded", got["_reason"]
    assert got["test_exponential_decay"] == 0
    assert scores["clean"]["test_exponential_decay"] == 2.0
    row = rows[variant]
    assert row["status"] == "graded" and "exponential_decay" in row["flagged"]


@pytest.mark.parametrize("variant,found", [
    ("shadowed-range", "shadowed the builtin range (cell exponential_decay)"),
    ("patched-math-builtins", "changed builtins.abs (cell exponential_decay)"),
    ("blanking-transformer", "changed IPython's input transformers (post) (cell exponential_decay)"),
    ("forgiving-hook", "changed IPython's post_run_cell hooks (cell exponential_decay)"),
    ("silent-traceback", "replaced IPython's shell.showtraceback (cell exponential_decay)"),
    ("fake-testing-file", "changed gdlib.__spec__.submodule_search_locations (cell exponential_decay)"),
    ("fake-gdlib-testing", "replaced sys.modules['gdlib.testing']"),
    ("frame-walker", "sys._getframe (frame access) during the hidden test, refused"),
])
def test_the_report_names_what_the_code_did_at_run_time(graded, variant, found):
    _, _, rows = graded
    assert found in rows[variant]["flagged"], rows[variant]["flagged"]


def test_a_takeover_of_the_kernel_is_not_graded_and_says_why(graded):
    _, scores, rows = graded
    assert scores["takeover"]["_status"] == "not graded"
    assert "did not run under the grader's guard" in rows["takeover"]["reason"]


def test_a_syntax_error_is_reported_as_itself_not_as_a_name_error(graded):
    import nbformat

    course, scores, _ = graded
    assert scores["syntax-error"]["test_exponential_decay"] == 0
    nb = nbformat.read(course.autograded / "syntax-error" / ASSIGNMENT / NOTEBOOK, as_version=4)
    test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_exponential_decay")
    [error] = [o for o in test.outputs if o.output_type == "error"]
    assert error.ename == "SyntaxError" and "(in cell exponential_decay)" in error.evalue
    assert "`exponential_decay` is not defined: fix the syntax error first" in error.evalue


def test_a_fake_gdlib_testing_costs_no_other_part_of_a_right_answer(graded):
    _, scores, _ = graded
    assert [scores["fake-gdlib-testing"][p] for p in PARTS[1:]] == [2.0] * 4


def test_report_flags_the_tampering_and_not_the_clean_solution(graded):
    course, _, rows = graded
    assert rows["clean"]["flagged"] == ""
    assert "sys.modules" in rows["fake-gdlib-testing"]["flagged"]
    patched = rows["patched-math-builtins"]["flagged"]
    assert "assigns math.isclose" in patched and "assigns builtins.abs" in patched
    text = (course.grading / "report.txt").read_text()
    lines = [row for row in text.splitlines() if ASSIGNMENT in row]
    line = next(row for row in lines if row.startswith("fake-gdlib-testing"))
    assert "graded" in line and "FLAGGED for review: " in line and "cell exponential_decay" in line
    assert "FLAGGED" not in next(row for row in lines if row.startswith("clean "))
    assert "flagged" in (course.grading / "report.csv").read_text().splitlines()[0]


# --- the scan itself, without grading ---------------------------------------------------------

@pytest.mark.parametrize("source,expected", [
    ("np.allclose = lambda *a, **k: True", "assigns np.allclose"),
    ("import numpy as xp\nxp.testing.assert_allclose = print", "assigns xp.testing.assert_allclose"),
    ("math.isclose = lambda *a, **k: True", "assigns math.isclose"),
    ("import builtins\nbuiltins.abs = lambda x: 0", "assigns builtins.abs"),
    ("import gdlib\ngdlib.schedules.ExponentialDecay = object", "assigns gdlib.schedules.ExponentialDecay"),
    ("setattr(np, 'isclose', None)", "setattr(np, ...)"),
    ("import sys\nsys.modules['gdlib.testing'] = None", "sys.modules"),
    ("get_ipython().set_custom_exc((AssertionError,), lambda *a: None)", "set_custom_exc"),
    ("import sys\nsys.settrace(None)", "settrace"),
    ("import sys\nsys.setprofile(None)", "setprofile"),
    ("import ctypes", "import ctypes"),
    ("import gc\ngc.get_referrers(1)", "gc.get_referrers"),
    ("import importlib\nimportlib.reload(np)", "import importlib"),
    ("__builtins__['abs'] = None", "__builtins__"),
    ("from gdlib import testing", "gdlib.testing"),
    ("import gdlib.testing", "import gdlib.testing"),
    ("x = get_ipython()", "get_ipython"),
    ("import sys\nf = sys._getframe(1)", "sys._getframe"),
    ("def f():\n    return f.__closure__", "__closure__"),
    ("k.do_execute = None", "do_execute"),
    ("ip.input_transformers_post.append(None)", "IPython input transformers"),
    ("ip.showtraceback = None", "IPython showtraceback"),
    ("g = (lambda: 0).__globals__", "__globals__"),
])
def test_each_pattern_is_flagged(source, expected):
    assert any(expected in found for found in scan_source(source)), scan_source(source)


def test_ordinary_numpy_code_is_not_flagged():
    assert scan_source("import math\nimport numpy as np\nw = np.zeros(3)\nw[0] = math.floor(2.5)\n"
                       "def f(x):\n    x.shape = (3,)\n    return np.max(np.linalg.eigvalsh(x))\n") == []


def _notebook(tmp_path, cells, name="nb.ipynb"):
    nb = {"cells": [{"cell_type": "code", "metadata": {"nbgrader": meta} if meta else {},
                     "source": src, "outputs": [], "execution_count": None} for src, meta in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / name
    path.write_text(json.dumps(nb))
    return path


def test_the_clean_solution_notebook_is_not_flagged():
    release = ROOT / "exercises" / ASSIGNMENT / NOTEBOOK
    assert scan_notebook(ROOT / "solutions" / ASSIGNMENT / NOTEBOOK, release) == []


def test_locked_cells_and_release_code_are_ignored_but_learner_cells_are_not(tmp_path):
    locked = {"grade": True, "grade_id": "test_a", "locked": True, "points": 1, "solution": False}
    release = _notebook(tmp_path, [("import math", None), ("assert True", locked)], "release.ipynb")
    submitted = _notebook(tmp_path, [("import math", None),
                                     ("import ctypes  # the test, edited", locked),
                                     ("def f():\n    import sys\n    sys.settrace(None)",
                                      {"solution": True, "grade_id": "part_a"}),
                                     ("import gc", None)])
    assert scan_notebook(submitted, release) == ["settrace (cell part_a)", "import gc (code cell 4)"]


def test_unparseable_code_is_flagged_not_fatal(tmp_path):
    release = _notebook(tmp_path, [], "release.ipynb")
    submitted = _notebook(tmp_path, [("def f(:\n    pass", {"solution": True, "grade_id": "part_b"}),
                                     ("%timeit 1 + 1", None)])
    found = scan_notebook(submitted, release)
    assert found[0] == "could not parse cell part_b"
    assert any("get_ipython" in f for f in found[1:])  # magics become get_ipython() calls
    (tmp_path / "broken.ipynb").write_text("{not json")
    assert scan_notebook(tmp_path / "broken.ipynb", release) == ["could not read broken.ipynb (JSONDecodeError)"]


def test_every_hidden_block_loads_gdlib_testing_anew_before_using_it():
    from gdlib.testing import TRUSTED_IMPORT
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if "### BEGIN HIDDEN TESTS" in source and "gdlib.testing" in source:
                hidden = source.split("### BEGIN HIDDEN TESTS\n", 1)[1]
                assert hidden.startswith(TRUSTED_IMPORT + "\n"), (path.name, cell["metadata"])
