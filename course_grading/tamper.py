"""Flag submissions whose own code tampers with what hidden tests rely on.

Hidden tests run in the learner's kernel, after the learner's cells, so a
notebook can reach them: replace ``sys.modules["gdlib.testing"]``, patch
``builtins``, install an exception hook that swallows ``AssertionError``, trace
the tests with ``sys.settrace``, or rewrite memory with ``ctypes``. No check
inside that process can stop all of it, so the report flags such code for a
human to read.

:func:`scan_notebook` reads the cells a learner wrote (every code cell whose
source is not exactly one the release handed out, so locked test cells and the
release's own imports are ignored) with :mod:`ast`, never with regular
expressions over the text, and returns what it found, with the cell's
``grade_id`` (or its position). Code that does not parse is flagged as such; the
scan never raises.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

# modules a notebook must not modify: an assignment to one of their attributes is flagged
GUARDED = {"numpy", "math", "builtins", "sys", "gdlib", "importlib", "ctypes", "gc", "types"}
DEFAULT_ALIASES = {"np": "numpy", "numpy": "numpy", "math": "math", "builtins": "builtins",
                   "sys": "sys", "gdlib": "gdlib"}
# modules whose mere import is flagged
FLAGGED_IMPORTS = {"ctypes", "importlib", "builtins", "gc", "gdlib.testing", "inspect", "cffi"}
# attribute names flagged wherever they appear
FLAGGED_ATTRIBUTES = {"set_custom_exc": "set_custom_exc (an exception hook)",
                      "settrace": "settrace", "setprofile": "setprofile",
                      "get_referrers": "gc.get_referrers", "modules": None,  # sys.modules only
                      "meta_path": None, "path_hooks": None, "excepthook": None,
                      "_getframe": "sys._getframe (frame access)",
                      "f_back": "frame access (f_back)", "f_globals": "frame access (f_globals)",
                      "f_locals": "frame access (f_locals)", "tb_frame": "frame access (tb_frame)",
                      "gi_frame": "frame access (gi_frame)", "cr_frame": "frame access (cr_frame)",
                      "__closure__": "__closure__", "cell_contents": "cell_contents",
                      "__code__": "__code__", "__globals__": "__globals__",
                      "__subclasses__": "__subclasses__",
                      "do_execute": "the kernel's do_execute", "shell_handlers": "kernel handlers",
                      "input_transformers_post": "IPython input transformers",
                      "input_transformers_cleanup": "IPython input transformers",
                      "input_transformer_manager": "IPython input transformers",
                      "ast_transformers": "IPython AST transformers",
                      "showtraceback": "IPython showtraceback", "_showtraceback": "IPython showtraceback"}
# names flagged wherever they are used
FLAGGED_NAMES = {"__builtins__": "__builtins__", "get_ipython": "get_ipython",
                 "__import__": "__import__", "ctypes": "ctypes", "importlib": "importlib",
                 "exec": "exec", "eval": "eval"}


def _root(node: ast.AST) -> str | None:
    """The name an attribute chain starts from: ``np`` for ``np.testing.assert_allclose``."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Subscript):
        parts.append(_dotted(node.value) + "[...]")
    return ".".join(reversed(parts))


class _Finder(ast.NodeVisitor):
    def __init__(self):
        self.aliases = dict(DEFAULT_ALIASES)
        self.found: list[str] = []

    def add(self, what: str) -> None:
        if what not in self.found:
            self.found.append(what)

    def module_of(self, node: ast.AST) -> str | None:
        root = _root(node)
        return self.aliases.get(root) if root else None

    # imports: remember aliases, flag dangerous modules
    def visit_Import(self, node):
        for alias in node.names:
            top = alias.name.partition(".")[0]
            if alias.asname:
                self.aliases[alias.asname] = alias.name if alias.name in GUARDED else top
            else:
                self.aliases[top] = top
            self._flag_import(alias.name)

    def visit_ImportFrom(self, node):
        module = node.module or ""
        for alias in node.names:
            self._flag_import(f"{module}.{alias.name}" if module else alias.name)
            if f"{module}.{alias.name}" in GUARDED or (module == "" and alias.name in GUARDED):
                self.aliases[alias.asname or alias.name] = alias.name
        self._flag_import(module)

    def _flag_import(self, name: str) -> None:
        for bad in FLAGGED_IMPORTS:
            if name == bad or name.startswith(bad + "."):
                self.add(f"import {bad}")

    # assignments to attributes of guarded modules
    def _check_target(self, target: ast.AST, how: str) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._check_target(elt, how)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            module = self.module_of(target)
            if module in GUARDED:
                self.add(f"{how} {_dotted(target)}")
        elif isinstance(target, ast.Starred):
            self._check_target(target.value, how)

    def visit_Assign(self, node):
        for target in node.targets:
            self._check_target(target, "assigns")
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._check_target(node.target, "assigns")
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self._check_target(node.target, "assigns")
        self.generic_visit(node)

    def visit_Delete(self, node):
        for target in node.targets:
            self._check_target(target, "deletes")
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else None
        if name in ("setattr", "delattr") and node.args:
            module = self.module_of(node.args[0])
            if module in GUARDED:
                self.add(f"{name}({_dotted(node.args[0])}, ...)")
        self.generic_visit(node)

    def visit_Attribute(self, node):
        if node.attr in FLAGGED_ATTRIBUTES:
            label = FLAGGED_ATTRIBUTES[node.attr]
            module = self.module_of(node.value)
            if label is not None:
                self.add(label)
            elif module == "sys":
                self.add(f"sys.{node.attr}")
        if node.attr == "testing" and self.module_of(node.value) == "gdlib":
            self.add("gdlib.testing")
        if node.attr == "__builtins__":
            self.add("__builtins__")
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in FLAGGED_NAMES and self.aliases.get(node.id, node.id) == node.id:
            self.add(FLAGGED_NAMES[node.id])

    def visit_Constant(self, node):
        if isinstance(node.value, str) and "gdlib.testing" in node.value:
            self.add("the string 'gdlib.testing'")


def scan_source(source: str) -> list[str]:
    """What tampering ``source`` (one cell) contains; raises SyntaxError if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        # IPython syntax (%magic, !shell) is turned into get_ipython() calls, and flagged as such
        from IPython.core.inputtransformer2 import TransformerManager
        tree = ast.parse(TransformerManager().transform_cell(source))
    finder = _Finder()
    finder.visit(tree)
    return finder.found


def _code_cells(path: Path) -> list[dict]:
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    cells = nb.get("cells") if isinstance(nb, dict) else None
    return [c for c in (cells or []) if isinstance(c, dict) and c.get("cell_type") == "code"]


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _nbgrader(cell: dict) -> dict:
    meta = cell.get("metadata")
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return meta if isinstance(meta, dict) else {}


def _locked_id(cell: dict) -> str | None:
    """The grade_id of a locked (read-only) cell, which autograde restores from the gradebook."""
    meta = _nbgrader(cell)
    grade_id = meta.get("grade_id")
    return grade_id if meta.get("locked") and not meta.get("solution") \
        and isinstance(grade_id, str) else None


def _label(cell: dict, position: int) -> str:
    grade_id = _nbgrader(cell).get("grade_id")
    return f"cell {grade_id}" if isinstance(grade_id, str) else f"code cell {position}"


def scan_notebook(path: Path, release: Path | None = None) -> list[str]:
    """Findings in the learner's cells of one notebook: ``["sys.modules (cell exponential_decay)", ...]``.

    A code cell whose source is exactly one of the release notebook's (``release``),
    or that carries the grade_id of one of its locked cells (autograde puts the
    instructor's source back there), is not the learner's and is skipped. Never raises: an unreadable notebook or
    a cell that does not parse is itself a finding.
    """
    given, locked = set(), set()
    try:
        if release is not None and Path(release).exists():
            for c in _code_cells(release):
                given.add(_source(c))
                if _locked_id(c):
                    locked.add(_locked_id(c))
    except Exception:  # noqa: BLE001, S110 - a broken release only means nothing is skipped
        pass
    try:
        cells = _code_cells(path)
    except Exception as err:  # noqa: BLE001
        return [f"could not read {Path(path).name} ({type(err).__name__})"]
    findings = []
    for position, cell in enumerate(cells, start=1):
        source = _source(cell)
        if source in given or not source.strip() or _locked_id(cell) in locked:
            continue  # handed out, or a locked cell autograde replaces by the instructor's
        label = _label(cell, position)
        try:
            found = scan_source(source)
        except Exception:  # noqa: BLE001 - SyntaxError, or anything the transformer raises
            findings.append(f"could not parse {label}")
            continue
        findings.extend(f"{what} ({label})" for what in found)
    return findings


def scan_submission(folder: Path, release_folder: Path | None = None) -> list[str]:
    """Findings in every notebook of a submission folder (see :func:`scan_notebook`)."""
    findings = []
    try:
        notebooks = sorted(Path(folder).glob("*.ipynb"))
    except Exception as err:  # noqa: BLE001
        return [f"could not list {folder} ({type(err).__name__})"]
    for nb in notebooks:
        release = Path(release_folder) / nb.name if release_folder else None
        findings.extend(scan_notebook(nb, release))
    return findings
