"""Where everything lives, and the nbgrader configuration built from it.

nbgrader reads ``nbgrader_config.py`` only from the current directory, so this
package never relies on it: every command builds its traitlets ``Config`` here
from the course root it was given.  The root's ``nbgrader_config.py`` calls the
same function, so ``nbgrader validate`` and friends agree with these commands.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import os
from pathlib import Path

from traitlets.config import Config

COURSE_ID = "gradient-descent-course"


def _limit(default, description):
    return dataclasses.field(default=default, metadata={"help": description})


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one learner's notebook may use while it is autograded: the one place limits live.

    Each field is also an ``autograde`` option (``cell_timeout`` is
    ``--cell-timeout``; ``sandbox`` is ``--no-sandbox``), passed on to the grading
    processes (:meth:`to_arguments`) and to nbgrader and the kernel manager
    (:meth:`configure`).
    """

    cell_timeout: int = _limit(120, "seconds a cell may run before it is interrupted")
    interrupt_grace: float = _limit(3.0, "seconds an interrupted cell has to stop before its "
                                         "kernel is killed")
    notebook_budget: int = _limit(900, "seconds for a whole submission, after which its grading "
                                       "process is killed")
    memory: int = _limit(3 * 2**30, "bytes of address space of the kernel (RLIMIT_AS)")
    processes: int = _limit(256, "processes and threads of the sandbox user (RLIMIT_NPROC)")
    output: int = _limit(1_000_000, "bytes of output kept per cell (streams, displays, updates, "
                                    "errors, widget messages)")
    file_size: int = _limit(64 * 2**20, "largest file the kernel may write (RLIMIT_FSIZE)")
    disk: int = _limit(256 * 2**20, "bytes the kernel may store in all (its /tmp and working "
                                    "folder, a tmpfs in RAM: a kernel holds at most memory + disk)")
    sandbox: bool = _limit(True, "run the kernel inside bubblewrap; --no-sandbox only for "
                                 "notebooks you trust")

    @staticmethod
    def _flag(field: dataclasses.Field) -> str:
        return "--no-sandbox" if field.name == "sandbox" else "--" + field.name.replace("_", "-")

    @classmethod
    def add_arguments(cls, parser) -> None:
        """Add one option per limit to an ``argparse`` parser."""
        for f in dataclasses.fields(cls):
            if f.type in (bool, "bool"):
                parser.add_argument(cls._flag(f), dest=f.name, action="store_false",
                                    help=f.metadata["help"])
            else:
                kind = type(f.default)
                parser.add_argument(cls._flag(f), dest=f.name, type=kind, default=f.default,
                                    metavar=kind.__name__.upper(),
                                    help=f"{f.metadata['help']} (default %(default)s)")

    @classmethod
    def from_arguments(cls, namespace) -> "Limits":
        return cls(**{f.name: getattr(namespace, f.name) for f in dataclasses.fields(cls)})

    def to_arguments(self) -> list[str]:
        """The options that give these limits to another ``python -m course_grading`` process."""
        out = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "sandbox":
                out += [] if value else [self._flag(f)]
            else:
                out.append(f"{self._flag(f)}={value}")
        return out

    def configure(self, cfg) -> None:
        """Put these limits into a traitlets config for nbgrader and the sandboxed kernels."""
        cfg.Execute.timeout = self.cell_timeout
        cfg.GuardedExecute.interrupt_grace = self.interrupt_grace
        cfg.GuardedExecute.max_output_bytes = self.output
        cfg.SandboxedKernelManager.sandbox = self.sandbox
        cfg.SandboxedKernelManager.memory_limit = self.memory
        cfg.SandboxedKernelManager.process_limit = self.processes
        cfg.SandboxedKernelManager.file_size_limit = self.file_size
        cfg.SandboxedKernelManager.disk_limit = self.disk


@dataclasses.dataclass(frozen=True)
class Course:
    """The course folder: ``solutions/``, ``exercises/`` and the git-ignored ``grading/``."""

    root: Path
    gdlib: Path | None = None

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root).resolve())
        if self.gdlib is not None:
            object.__setattr__(self, "gdlib", Path(self.gdlib).resolve())

    @property
    def library(self) -> Path:
        """The gdlib package the learners' kernels import: this course's own ``gdlib/``, else
        (for a course folder without one) the gdlib this Python has installed."""
        if self.gdlib is not None:
            return self.gdlib
        own = self.root / "gdlib"
        if (own / "__init__.py").is_file():
            return own
        spec = importlib.util.find_spec("gdlib")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(f"{self.root} has no gdlib/ and gdlib is not installed")
        return Path(list(spec.submodule_search_locations)[0]).resolve()

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


def nbgrader_config(course: Course) -> Config:
    """The traitlets configuration of every nbgrader step for ``course``, with the default limits.

    Autograding puts its own limits in with :meth:`Limits.configure`.
    """
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
    Limits().configure(c)
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


def env_for_kernels() -> dict[str, str]:
    """Environment variables for everything that runs learner code."""
    env = dict(os.environ)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    return env
