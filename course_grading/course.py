"""Where everything lives, and the nbgrader configuration built from it.

nbgrader reads ``nbgrader_config.py`` only from the current directory, so this
package never relies on it: every command builds its traitlets ``Config`` here
from the course root it was given.  The root's ``nbgrader_config.py`` calls the
same function, so ``nbgrader validate`` and friends agree with these commands.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from traitlets.config import Config

COURSE_ID = "gradient-descent-course"


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one learner's notebook may use while it is autograded.

    cell_timeout: seconds a cell may run before it is interrupted; a cell that
        ignores the interrupt for ``interrupt_grace`` more seconds ends the notebook.
    notebook_budget: seconds for the whole submission (all its notebooks), after
        which its grading process is killed.
    memory: bytes of address space for the kernel (RLIMIT_AS).
    processes: processes and threads the sandbox user may have (RLIMIT_NPROC).
    output: bytes of output kept per cell; the rest is dropped.
    file_size: largest file the kernel may write (RLIMIT_FSIZE).
    sandbox: run the kernel inside bubblewrap (``bwrap``); False only for debugging.
    """

    cell_timeout: int = 120
    interrupt_grace: float = 3.0
    notebook_budget: int = 900
    memory: int = 3 * 2**30
    processes: int = 256
    output: int = 1_000_000
    file_size: int = 64 * 2**20
    sandbox: bool = True


@dataclasses.dataclass(frozen=True)
class Course:
    """The course folder: ``solutions/``, ``exercises/`` and the git-ignored ``grading/``."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root).resolve())

    @property
    def solutions(self) -> Path:
        return self.root / "solutions"

    @property
    def exercises(self) -> Path:
        return self.root / "exercises"

    @property
    def grading(self) -> Path:
        return self.root / "grading"

    @property
    def submitted(self) -> Path:
        return self.grading / "submitted"

    @property
    def autograded(self) -> Path:
        return self.grading / "autograded"

    @property
    def feedback(self) -> Path:
        return self.grading / "feedback"

    @property
    def results(self) -> Path:
        """One JSON record per (assignment, student): the outcome the report shows."""
        return self.grading / "results"

    @property
    def gradebook(self) -> Path:
        return self.grading / "gradebook.db"

    @property
    def db_url(self) -> str:
        # timeout: parallel graders wait for each other's short writes
        return f"sqlite:///{self.gradebook}?timeout=120"

    def assignments(self) -> list[str]:
        """Assignment names: the folders of ``solutions/`` holding a notebook."""
        if not self.solutions.is_dir():
            return []
        return sorted(p.name for p in self.solutions.iterdir()
                      if p.is_dir() and any(p.glob("*.ipynb")))

    def notebooks(self, assignment: str) -> list[str]:
        """Notebook names (without ``.ipynb``) of one assignment."""
        return sorted(p.stem for p in (self.solutions / assignment).glob("*.ipynb")
                      if not p.name.startswith("."))

    def notebook_index(self) -> dict[str, str]:
        """Map each notebook name to its assignment (names are unique in a course)."""
        index = {}
        for assignment in self.assignments():
            for nb in self.notebooks(assignment):
                if nb in index:
                    raise ValueError(f"notebook name {nb!r} is used by both "
                                     f"{index[nb]!r} and {assignment!r}; names must be unique")
                index[nb] = assignment
        return index

    def ensure_dirs(self) -> None:
        for d in (self.grading, self.submitted, self.autograded, self.feedback, self.results):
            d.mkdir(parents=True, exist_ok=True)


def nbgrader_config(course: Course, limits: Limits | None = None) -> Config:
    """The traitlets configuration of every nbgrader step for ``course``."""
    limits = limits or Limits()
    c = Config()
    c.CourseDirectory.root = str(course.root)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.source_directory = "solutions"
    c.CourseDirectory.release_directory = "exercises"
    c.CourseDirectory.submitted_directory = "grading/submitted"
    c.CourseDirectory.autograded_directory = "grading/autograded"
    c.CourseDirectory.feedback_directory = "grading/feedback"
    c.CourseDirectory.db_url = course.db_url
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",
                                "*.py"]
    # the release: no outputs, solutions and hidden tests removed
    c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
    # autograding: restore deleted or edited test cells from the gradebook
    c.OverwriteCells.add_missing_cells = True
    c.Execute.timeout = limits.cell_timeout
    c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:",
                                 "--InteractiveShell.xmode=Minimal"]
    c.LimitOutput.max_lines = 300
    c.LimitOutput.max_traceback = 40
    # feedback never reveals hidden tests
    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
        "nbgrader.preprocessors.ClearHiddenTests",
    ]
    c.ClearHiddenTests.enforce_metadata = False
    return c


def nbgrader_cli_args(course: Course) -> list[str]:
    """The same settings as command-line flags, for running ``nbgrader`` itself."""
    cfg = nbgrader_config(course)
    args = []
    for section, values in cfg.items():
        for key, value in values.items():
            args.append(f"--{section}.{key}={value!r}" if not isinstance(value, str)
                        else f"--{section}.{key}={value}")
    return args


def env_for_kernels() -> dict[str, str]:
    """Environment variables for everything that runs learner code."""
    env = dict(os.environ)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    return env
