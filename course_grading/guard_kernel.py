"""The kernel that runs a learner's notebook while it is autograded: IPython's kernel, with a guard.

The grader starts this file as a script inside the sandbox (``python -P
guard_kernel.py -f connection.json``), so it is loaded before any learner code
and never imported by it. It reads a secret token from its standard input,
starts ipykernel, takes a snapshot of everything the hidden tests stand on, and
wraps the kernel's ``do_execute``. Learner cells then run as usual. A cell the
grader marks as an autograded test cell (``{"cg": {"test": true}}`` in the
execute request's metadata) does not go through IPython at all:

1. Everything in the snapshot that the learner's cells changed is put back and
   named: the builtins, the import machinery (``sys.modules`` entries,
   ``sys.meta_path``, ``sys.path``, ``gdlib.__spec__`` and ``gdlib.__path__``),
   the modules the hidden tests use (numpy, random, math, importlib, gdlib, ...),
   IPython's input and AST transformers, its event hooks and ``showtraceback``,
   ``sys.excepthook``, ``sys.stdout``, tracing and profiling.
2. The cell is compiled and executed with the pristine ``compile`` and ``exec``
   in a fresh namespace: the learner's names, minus any that shadow a builtin,
   with pristine builtins. ``range = lambda *a: ()`` in a learner cell therefore
   cannot make a hidden loop run zero times, and no input transformer, hook or
   traceback override sees the cell.
3. The verdict (passed, or the exception's type and message) is published as
   the cell's error output by the guard itself and returned in the reply, with
   an attestation (an HMAC under the token) that the grader checks. A test cell
   whose reply carries no valid attestation was not run by this guard: the
   grader then reports the submission as not graded.

An audit hook (which Python offers no way to remove) records learner code that
reaches for frames, the garbage collector, tracing or ``ctypes``; during a
hidden test such a call from learner code is refused, so a learner's function
cannot rewrite the test's variables from below. Everything found is returned
with each test cell's verdict, and the report flags it.

Python gives code in one process no isolation from other code in that process:
a determined learner can still navigate closures to reach this guard. The
static scan of the learner's cells (:mod:`course_grading.tamper`) flags the ways
to do so; what it cannot rule out, a human reads.
"""
from __future__ import annotations

import builtins
import hashlib
import hmac
import os
import re
import sys
import threading
import traceback
import types

# Modules the hidden tests (and gdlib.testing) use, or that decide what an import finds.
GUARDED_MODULES = (
    "builtins", "importlib", "importlib.util", "importlib.machinery", "importlib.abc",
    "importlib._bootstrap", "importlib._bootstrap_external", "math", "random", "types",
    "functools", "itertools", "operator", "contextlib", "dis", "copy", "numbers",
    "numpy", "numpy.random", "numpy.linalg",
)
# Audit events that reach frames, objects or memory behind the tests' back.
WATCHED_EVENTS = {
    "sys._getframe": "sys._getframe (frame access)",
    "sys._current_frames": "sys._current_frames (frame access)",
    "sys.settrace": "sys.settrace (tracing)",
    "sys.setprofile": "sys.setprofile (profiling)",
    "sys.addaudithook": "sys.addaudithook",
    "gc.get_referrers": "gc.get_referrers", "gc.get_referents": "gc.get_referents",
    "gc.get_objects": "gc.get_objects",
    "ctypes.dlopen": "ctypes", "ctypes.dlsym": "ctypes", "ctypes.cdata": "ctypes",
    "ctypes.addressof": "ctypes", "ctypes.string_at": "ctypes", "ctypes.call_function": "ctypes",
}
SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")
FRAME_ATTRIBUTES = {"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back"}
_MISSING = object()


def same(a, b) -> bool:
    """Identity, except that two bound methods of one function on one object are the same."""
    if isinstance(a, types.MethodType) and isinstance(b, types.MethodType):
        return a.__func__ is b.__func__ and a.__self__ is b.__self__
    return a is b


class Guard:
    """The snapshot, the checks and the test runner of one kernel (see the module docstring)."""

    def __init__(self, kernel, token: bytes):
        self.kernel, self.shell = kernel, kernel.shell
        self.user_ns = self.shell.user_ns
        self.findings: dict[str, str] = {}  # what learner code did -> the first cell it was seen in
        self.cell = "(start)"             # label of the cell running now
        self.in_test = False
        self.counter = 0
        self._key = token                  # never leaves this object
        self._exec, self._compile = builtins.exec, builtins.compile
        self._format_exception_only = traceback.format_exception_only
        self._show = self.shell._showtraceback  # noqa: SLF001 - IPython's own hook, wrapped below
        self._do_execute = kernel.do_execute
        self._learner_files = os.path.dirname(self.shell.compile.get_code_name("", "", 0)) + os.sep
        self._snapshot()
        sys.addaudithook(self._audit)

    # --- snapshot and restore ---------------------------------------------------------------

    def _snapshot(self) -> None:
        import importlib

        for name in GUARDED_MODULES:
            importlib.import_module(name)
        try:
            import gdlib  # gdlib and its submodules belong to the snapshot
            self.gdlib_error = None
        except Exception as err:  # noqa: BLE001 - reported with every verdict
            self.gdlib_error = f"{type(err).__name__}: {err}"
        names = [n for n in sys.modules if n in GUARDED_MODULES or n == "gdlib"
                 or n.startswith("gdlib.")]
        self.modules = {n: sys.modules[n] for n in names if isinstance(sys.modules[n], types.ModuleType)}
        self.dicts = {n: dict(vars(m)) for n, m in self.modules.items()}
        self.specs = {n: (m.__spec__, dict(vars(m.__spec__)) if m.__spec__ is not None else None,
                          list(m.__spec__.submodule_search_locations or [])
                          if m.__spec__ is not None else None,
                          list(getattr(m, "__path__", None) or []))
                      for n, m in self.modules.items()}
        self.all_modules = dict(sys.modules)
        self.sys_lists = {name: list(getattr(sys, name)) for name in ("meta_path", "path_hooks", "path")}
        self.importer_cache = dict(sys.path_importer_cache)
        self.sys_hooks = {name: getattr(sys, name) for name in
                          ("excepthook", "displayhook", "stdout", "stderr", "breakpointhook",
                           "unraisablehook")}
        shell = self.shell
        self.shell_lists = {
            "input transformers (cleanup)": shell.input_transformer_manager.cleanup_transforms,
            "input transformers (line)": shell.input_transformer_manager.line_transforms,
            "input transformers (token)": shell.input_transformer_manager.token_transformers,
            "input transformers (post)": shell.input_transformers_post,
            "AST transformers": shell.ast_transformers,
        }
        self.shell_list_copies = {k: list(v) for k, v in self.shell_lists.items()}
        self.events = {k: list(v) for k, v in shell.events.callbacks.items()}
        self.shell_attrs = {name: getattr(shell, name, _MISSING) for name in
                            ("showtraceback", "_showtraceback", "showsyntaxerror", "run_cell",
                             "run_cell_async", "run_code", "run_ast_nodes", "transform_cell",
                             "custom_exceptions", "CustomTB", "displayhook", "display_pub",
                             "compile", "excepthook", "input_transformer_manager",
                             "prefilter_manager")}
        self.kernel_attrs = {name: getattr(self.kernel, name, _MISSING) for name in
                             ("execute_request", "session", "iopub_socket", "shell_handlers")}
        self.handlers = dict(self.kernel.shell_handlers)
        self.classes = {}
        for obj in (shell, self.kernel, self.kernel.session):
            for cls in type(obj).__mro__[:-1]:
                self.classes[cls] = dict(vars(cls))
        self.codes = {}
        for owner, saved in [(f"{n}.", d) for n, d in self.dicts.items()] + \
                [(f"{c.__module__}.{c.__qualname__}.", d) for c, d in self.classes.items()]:
            for key, value in saved.items():
                value = getattr(value, "__func__", value)  # staticmethod, classmethod
                if isinstance(value, types.FunctionType):
                    self.codes[owner + key] = (value, value.__code__, value.__defaults__,
                                               value.__kwdefaults__)
        self.threads = None  # the kernel's own threads, taken when the first cell arrives
        self.initial_ns: dict = {}
        self.syntax_errors: dict[str, str] = {}  # learner cell -> the syntax error it stopped at
        self.trusted_roots = tuple(os.path.realpath(p) + os.sep for p in
                                   {sys.prefix, sys.base_prefix, sys.exec_prefix, "/usr"})
        gdlib = self.modules.get("gdlib")
        if gdlib is not None:
            self.trusted_roots += tuple(os.path.realpath(p) + os.sep for p in gdlib.__path__)

    def _note(self, what: str) -> None:
        """Remember what learner code did, with the first cell it was seen in."""
        self.findings.setdefault(what, self.cell)

    def restore(self, apply: bool = True) -> list[str]:
        """What differs from the snapshot (each noted); with ``apply``, put it all back."""
        changed = []

        def differs(what: str) -> bool:
            changed.append(what)
            return apply

        for name, module in self.modules.items():
            if sys.modules.get(name) is not module and differs(f"replaced sys.modules[{name!r}]"):
                sys.modules[name] = module
            current, saved = vars(module), self.dicts[name]
            for key, value in saved.items():
                if not same(current.get(key, _MISSING), value) and differs(
                        f"{'changed' if key in current else 'deleted'} {name}.{key}"):
                    current[key] = value
            if name == "builtins":
                for key in [k for k in current if k not in saved]:
                    if differs(f"added builtins.{key}"):
                        del current[key]
            spec, spec_dict, locations, path = self.specs[name]
            if spec is not None:
                if vars(spec) != spec_dict and differs(f"changed {name}.__spec__"):
                    vars(spec).clear()
                    vars(spec).update(spec_dict)
                if spec.submodule_search_locations is not None and \
                        list(spec.submodule_search_locations) != locations and \
                        differs(f"changed {name}.__spec__.submodule_search_locations"):
                    spec.submodule_search_locations[:] = locations
            if path and list(getattr(module, "__path__", None) or []) != path and \
                    differs(f"changed {name}.__path__"):
                module.__path__[:] = path
        for name, (fn, code, defaults, kwdefaults) in self.codes.items():
            if (fn.__code__ is not code or fn.__defaults__ is not defaults
                    or fn.__kwdefaults__ is not kwdefaults) and differs(f"rewrote the code of {name}"):
                fn.__code__, fn.__defaults__, fn.__kwdefaults__ = code, defaults, kwdefaults
        for name, saved in self.sys_lists.items():
            current = getattr(sys, name)
            equal = same if name != "path" else (lambda a, b: type(a) is str and a == b)
            if (len(current) != len(saved) or not all(map(equal, current, saved))) and \
                    differs(f"changed sys.{name}"):
                current[:] = saved
        cache = sys.path_importer_cache
        finder_types = {type(f) for f in self.importer_cache.values()}
        for path in list(cache):
            saved = self.importer_cache.get(path, _MISSING)
            if saved is _MISSING:
                if cache[path] is not None and type(cache[path]) not in finder_types and \
                        differs(f"added an importer for {path}"):
                    del cache[path]
            elif cache[path] is not saved and differs(f"changed the importer of {path}"):
                cache[path] = saved
        for name, module in self.all_modules.items():
            if sys.modules.get(name, _MISSING) is not module and name not in self.modules \
                    and name != "__main__" and differs(f"replaced sys.modules[{name!r}]"):
                sys.modules[name] = module
        for name in [n for n in sys.modules if n not in self.all_modules]:
            module = sys.modules[name]
            origin = getattr(getattr(module, "__spec__", None), "origin", None) \
                or getattr(module, "__file__", None)
            if origin in (None, "built-in", "frozen"):
                # a module made in memory: harmless, unless it takes a name the tests import
                if name.partition(".")[0] in ("gdlib", "numpy") or name in GUARDED_MODULES:
                    if differs(f"replaced sys.modules[{name!r}]"):
                        del sys.modules[name]
                continue
            if not os.path.realpath(str(origin)).startswith(self.trusted_roots) and \
                    differs(f"imported {name} from {origin}"):
                del sys.modules[name]
        for name, value in self.sys_hooks.items():
            if getattr(sys, name) is not value and differs(f"replaced sys.{name}"):
                setattr(sys, name, value)
        if (sys.gettrace() is not None or threading._trace_hook is not None) and \
                differs("set a trace function"):  # noqa: SLF001
            sys.settrace(None)
            threading.settrace(None)
        if (sys.getprofile() is not None or threading._profile_hook is not None) and \
                differs("set a profile function"):  # noqa: SLF001
            sys.setprofile(None)
            threading.setprofile(None)
        shell = self.shell
        for label, lst in self.shell_lists.items():
            saved = self.shell_list_copies[label]
            if (len(lst) != len(saved) or not all(map(same, lst, saved))) and \
                    differs(f"changed IPython's {label}"):
                lst[:] = saved
        for name in ("input_transformers_post", "ast_transformers"):
            label = "input transformers (post)" if name != "ast_transformers" else "AST transformers"
            if getattr(shell, name) is not self.shell_lists[label] and \
                    differs(f"replaced IPython's {label}"):
                setattr(shell, name, self.shell_lists[label])
        for event, callbacks in shell.events.callbacks.items():
            saved = self.events.get(event, [])
            if (len(callbacks) != len(saved) or not all(map(same, callbacks, saved))) and \
                    differs(f"changed IPython's {event} hooks"):
                callbacks[:] = saved
        for name, value in self.shell_attrs.items():
            if not same(getattr(shell, name, _MISSING), value) and \
                    differs(f"replaced IPython's shell.{name}"):
                setattr(shell, name, value)
        for name, value in self.kernel_attrs.items():
            if not same(getattr(self.kernel, name, _MISSING), value) and \
                    differs(f"replaced the kernel's {name}"):
                setattr(self.kernel, name, value)
        handlers = self.kernel.shell_handlers
        if (set(handlers) != set(self.handlers)
                or not all(same(handlers[k], v) for k, v in self.handlers.items())) and \
                differs("changed the kernel's message handlers"):
            handlers.clear()
            handlers.update(self.handlers)
        for cls, saved in self.classes.items():
            current = vars(cls)
            for key in set(current) | set(saved):
                if current.get(key, _MISSING) is saved.get(key, _MISSING) or \
                        (key.startswith("__") and key not in saved):  # caches Python adds itself
                    continue
                if differs(f"changed {cls.__module__}.{cls.__qualname__}.{key}"):
                    if key in saved:
                        setattr(cls, key, saved[key])
                    else:
                        delattr(cls, key)
        for name, value in self.user_ns.items():
            builtin = self.dicts["builtins"].get(name, _MISSING)
            if callable(builtin) and callable(value) and not same(value, builtin) and \
                    not name.startswith("_") and not same(self.initial_ns.get(name, _MISSING), value):
                self._note(f"shadowed the builtin {name}")  # harmless to the tests: noted only
        if self.threads is not None and any(t not in self.threads and t.is_alive() and
                                            self._learners(t) for t in threading.enumerate()):
            self._note("left a thread of its own running")  # it could change things during a test
        for what in changed:
            self._note(what)
        return changed

    def _learners(self, thread) -> bool:
        """Whether learner code runs in ``thread`` (its target, or its class's run method)."""
        target = getattr(thread, "_target", None) or getattr(type(thread), "run", None)
        code = getattr(target, "__code__", None)
        return code is not None and (getattr(target, "__globals__", None) is self.user_ns
                                     or code.co_filename.startswith(self._learner_files))

    # --- the audit hook ---------------------------------------------------------------------

    def _learner_frames(self) -> bool:
        """Whether learner code is on the stack (a frame of a cell, or of a function a cell defined)."""
        try:
            frame = sys._getframe(1)  # noqa: SLF001
        except ValueError:
            return False
        user_ns, prefix = self.user_ns, self._learner_files
        while frame is not None:
            if frame.f_globals is user_ns or frame.f_code.co_filename.startswith(prefix):
                return True
            frame = frame.f_back
        return False

    def _audit(self, event: str, args: tuple) -> None:
        """The audit hook: note (and during a hidden test, refuse) what learner code reaches for.

        It must never fail on its own: any error of its own is swallowed.
        """
        if event == "object.__getattr__":
            if len(args) < 2 or args[1] not in FRAME_ATTRIBUTES:
                return
            label = f"read .{args[1]} (frame access)"
        elif event == "object.__setattr__":
            if len(args) < 2 or args[1] != "__code__":
                return
            label = "replaced a function's __code__"
        elif event in WATCHED_EVENTS:
            label = WATCHED_EVENTS[event]
        else:
            return
        local = self._local
        if getattr(local, "busy", False):
            return
        local.busy = True
        try:
            learner = self._learner_frames()
            if learner and not self.in_test:
                self._note(label)
        except Exception:  # noqa: BLE001 - the hook must not break the operation it watches
            learner = False
        finally:
            local.busy = False
        if learner and self.in_test:
            self._note(f"{label} during the hidden test, refused")
            raise RuntimeError(f"the grader refuses {label.split(' (')[0]} while hidden tests run")

    _local = threading.local()

    # --- running cells ----------------------------------------------------------------------

    async def do_execute(self, code, silent, store_history=True, user_expressions=None,
                         allow_stdin=False, *, cell_meta=None, cell_id=None):
        if self.threads is None:
            self.threads = set(threading.enumerate())
            self.initial_ns = dict(self.user_ns)  # IPython's own exit, quit, get_ipython
        meta = (cell_meta or {}).get("cg") if isinstance(cell_meta, dict) else None
        meta = meta if isinstance(meta, dict) else {}
        self.cell = str(meta.get("label") or f"cell {self.counter + 1}")
        self.counter += 1
        if meta.get("test"):
            return self.run_test(code)
        try:
            reply = await self._do_execute(code, silent, store_history, user_expressions,
                                           allow_stdin, cell_meta=cell_meta, cell_id=cell_id)
        finally:
            self.restore(apply=False)  # name the learner cell that changed something
        if isinstance(reply, dict) and reply.get("ename") in SYNTAX_ERRORS:
            where = re.sub(r"\([^()]*\.py, line (\d+)\)", r"(line \1)", str(reply.get("evalue", "")))
            self.syntax_errors[self.cell] = f"{reply['ename']}: {where}"
        else:
            self.syntax_errors.pop(self.cell, None)
        return reply

    def run_test(self, code: str) -> dict:
        """Run one autograded test cell on restored ground; the reply carries the attested verdict."""
        shell = self.shell
        tampered_before = self.restore()
        namespace = {k: v for k, v in self.user_ns.items()
                     if k not in self.dicts["builtins"] or k.startswith("__")}
        namespace["__builtins__"] = dict(self.dicts["builtins"])
        error = None
        self.in_test = True
        try:
            self._exec(self._compile(code, f"<{self.cell}>", "exec"), namespace)
        except BaseException as err:  # noqa: BLE001 - every way a test can fail is a failure
            error = err
        finally:
            self.in_test = False
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - a learner's stream: restore() replaces it
                pass
        tampered_during = self.restore()
        for key, value in namespace.items():
            if not key.startswith("__") and self.user_ns.get(key, _MISSING) is not value:
                self.user_ns[key] = value
        shell.execution_count += 1
        reply = {"status": "ok", "execution_count": shell.execution_count - 1,
                 "user_expressions": {}, "payload": []}
        verdict = {"cell": self.cell, "seq": self.counter, "passed": error is None,
                   "tampered_before": tampered_before, "tampered_during": tampered_during,
                   "findings": [f"{what} ({cell})" for what, cell in self.findings.items()],
                   "gdlib_error": self.gdlib_error}
        if error is not None:
            etype = type(error)
            ename = etype.__name__
            evalue = str(error) if not isinstance(error, SyntaxError) else \
                "".join(self._format_exception_only(etype, error)).strip()
            if isinstance(error, NameError) and self.syntax_errors:
                # the name is missing because the cell defining it did not compile: say that
                cell, message = next(iter(self.syntax_errors.items()))
                etype, ename, evalue = SyntaxError, "SyntaxError", (
                    f"{message} (in {cell}). That cell could not run, so "
                    f"`{getattr(error, 'name', None) or str(error)}` is not defined: "
                    "fix the syntax error first.")
            stb = [f"{ename}: {evalue}" if evalue else ename]
            self._show(etype, evalue, stb)
            reply.update(status="error", ename=ename, evalue=evalue, traceback=stb)
            verdict.update(ename=ename, evalue=evalue[:2000])
        verdict["mac"] = self.sign(verdict)
        reply["cg_guard"] = verdict
        return reply

    def sign(self, verdict: dict) -> str:
        return sign(self._key, verdict)


def sign(key: bytes, verdict: dict) -> str:
    """The attestation of a verdict: an HMAC over its fields in a fixed order (the grader recomputes it)."""
    fields = [verdict.get(k) for k in ("cell", "seq", "passed", "ename", "evalue",
                                       "tampered_before", "tampered_during", "findings")]
    return hmac.new(key, repr(fields).encode("utf-8", "replace"), hashlib.sha256).hexdigest()


def main(argv: list[str]) -> None:
    token = sys.stdin.buffer.readline().strip()
    if not token:
        raise SystemExit("guard_kernel: no token on standard input")
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(argv)
    guard = Guard(app.kernel, token)
    app.kernel.do_execute = guard.do_execute
    del guard, token
    app.start()


if __name__ == "__main__":
    main(sys.argv[1:])
