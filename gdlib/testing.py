r"""Helpers for the hidden tests of the graded exercises: checks a learner's code cannot talk its way past.

A hidden test runs in the same Python process as the learner's notebook, after
the learner's cells, so anything the learner replaced is replaced for the test
too. The helpers here depend on nothing a learner is likely to patch:

* :func:`assert_allclose` compares in plain Python. Arrays are turned into
  nested lists with ``numpy.ndarray.tolist`` taken from the *type* (a C method
  no notebook can replace), never through ``np.allclose``, ``np.isclose``,
  ``np.testing`` or ``np.asarray``; the numbers are compared with ``math``.
* :func:`fresh_reference` executes a gdlib module's file anew, under a private
  name, so ``gdlib.optimizers.adam.adam_update = my_adam_update`` in a notebook
  does not change the reference the test compares with. gdlib functions and
  modules the fresh module refers to are fresh copies too.
* :func:`forbid_gdlib` gives no credit to an answer that calls gdlib's own
  implementation: it rejects a function whose code refers (directly, or through
  the learner's helper functions, default arguments or closures) to anything
  from gdlib, and while its ``with`` block runs every gdlib function and class
  is a tripwire.
* :class:`Diagnosis` compares an answer with the reference and with the known
  mistakes of a part, draw after draw, and names the mistake the answer
  matches on every draw ("your update matches Adam without bias correction:
  see chapter 4, Adam, equation (4.7)"); otherwise it says what differs, as
  :func:`assert_allclose` does.
* :func:`numerical_gradient` and :func:`gradient_check` check a gradient with
  central differences in float64.

A typical hidden test::

    import random
    from gdlib.testing import assert_allclose, forbid_gdlib, fresh_reference

    reference = fresh_reference("gdlib.optimizers.adam", "adam_update")
    rng = random.Random(4)
    for draw in range(5):
        shape = (rng.randint(1, 4), rng.randint(1, 5))
        ...                                   # random arrays and hyperparameters
        with forbid_gdlib(adam_update):
            got = adam_update(w1, g, m1, v1, lr, 0)
        want = reference(w2, g, m2, v2, lr, 0)
        assert_allclose(got, want, rtol=1e-5, atol=1e-7, name=f"adam_update, draw {draw}")

Every check raises ``AssertionError`` with a message a learner can act on;
it never prints.

**Load this module anew in every hidden test.** ``from gdlib.testing import ...``
reads ``sys.modules["gdlib.testing"]``, which a notebook can replace by a fake
whose checks always pass. So a hidden-test block starts with one line that
executes this file again, found in the folder of the ``gdlib`` package, and
puts the fresh copy where the import reads it (the block's first lines, right
after nbgrader's hidden-tests marker)::

    <the line TRUSTED_IMPORT>
    from gdlib.testing import assert_allclose as _close, forbid_gdlib as _forbid

:data:`TRUSTED_IMPORT` is that line (``docs/grading.md`` prints it). Its comparisons use float operators and
types taken from literals, never ``math``, ``numpy`` or ``builtins`` functions a
notebook could have replaced before the line runs. What no check inside the
learner's process can stop (``builtins.__import__``, ``sys.settrace``,
``ctypes``, an exception hook that swallows ``AssertionError``) is flagged for
review in the grading report instead.
"""

import builtins
import contextlib
import dis
import functools
import importlib.util
import itertools
import sys
import types

import numpy

__all__ = ["TRUSTED_IMPORT", "assert_allclose", "assert_finite", "to_list", "shape_of", "Diagnosis",
           "fresh_reference", "forbid_gdlib", "uses_gdlib", "numerical_gradient", "gradient_check",
           "relative_error"]

#: One line that starts every hidden-test block; it executes gdlib.testing anew from gdlib's folder.
TRUSTED_IMPORT = (
    'import importlib.util as _iu, sys as _sys; '
    '_spec = _iu.spec_from_file_location("gdlib.testing", _iu.find_spec("gdlib")'
    '.submodule_search_locations[0] + "/testing.py"); '
    '_sys.modules["gdlib.testing"] = _iu.module_from_spec(_spec); '
    '_spec.loader.exec_module(_sys.modules["gdlib.testing"])')

# Taken from the types, which a notebook cannot change (``numpy.ndarray.tolist = ...`` raises).
_ndarray = numpy.ndarray
_generic = numpy.generic
_ndarray_tolist = numpy.ndarray.tolist
_generic_tolist = numpy.generic.tolist
_ndarray_copy = numpy.ndarray.copy

# The comparisons below use only these, taken from literals (``builtins.float = ...`` or
# ``builtins.isinstance = ...`` in a notebook cannot reach them), and float operators, which no
# notebook can patch: no ``math``, ``abs``, ``all``, ``zip``, ``len`` or ``isinstance`` from builtins.
_type = (0).__class__.__class__
_instance = _type.__instancecheck__          # _instance(cls, obj): isinstance, from the type
_float, _int, _bool, _complex = (0.0).__class__, (0).__class__, (True).__class__, (0j).__class__
_list, _tuple, _str, _dict = [].__class__, ().__class__, "".__class__, {}.__class__
_length = _list.__len__
_INF = 1e308 * 10.0

_real_import = builtins.__import__
_FRESH_PREFIX = "_gdlib_testing_fresh_"
_fresh_counter = itertools.count()


def _isnan(x):
    return x != x


def _isfinite(x):
    return x == x and x != _INF and x != -_INF


def _abs(x):
    return -x if x < 0.0 else x


# --- plain-Python comparison ---------------------------------------------------------------

def to_list(value, name="result"):
    """``value`` (ndarray, NumPy scalar, Python number, or nested list/tuple of these) as nested lists of floats.

    Raises ``AssertionError`` naming ``name`` for anything else (None, a string,
    an object that only pretends to be an array).
    """
    if _instance(_ndarray, value):
        value = _ndarray_tolist(value)
    elif _instance(_generic, value):
        value = _generic_tolist(value)
    if _instance(_list, value) or _instance(_tuple, value):
        return [to_list(v, name) for v in value]
    if _instance(_bool, value) or _instance(_int, value) or _instance(_float, value):
        return _float(value)
    if _instance(_complex, value):
        raise AssertionError(f"{name}: expected real numbers, got a complex value {value!r}")
    raise AssertionError(f"{name}: expected a NumPy array or a number, got "
                         f"{_type(value).__name__} ({_short(value)})")


def _short(value, limit=60):
    try:
        text = f"{value!r}"
    except Exception:  # noqa: BLE001 - a learner's object may fail to print
        text = object.__repr__(value)
    return text if _str.__len__(text) <= limit else text[:limit - 3] + "..."


def shape_of(nested):
    """Shape of nested lists as :func:`to_list` returns them; ``()`` for a number.

    Raises ``AssertionError`` for ragged lists.
    """
    if not _instance(_list, nested):
        return ()
    if not nested:
        return (0,)
    inner = [shape_of(v) for v in nested]
    for s in inner:
        if s != inner[0]:
            raise AssertionError("ragged nested lists: rows of different lengths")
    return (_length(nested),) + inner[0]


def _flatten(nested, index=()):
    if _instance(_list, nested):
        i = 0
        for v in nested:
            yield from _flatten(v, index + (i,))
            i += 1
    else:
        yield index, nested


def _close(a, e, rtol, atol):
    if _isnan(e):
        return _isnan(a)
    if _isnan(a):
        return False
    if not _isfinite(e) or not _isfinite(a):
        return a == e
    return _abs(a - e) <= atol + rtol * _abs(e)


def _difference(got, want, rtol, atol, name):
    """What differs between nested lists ``got`` and ``want`` (as :func:`assert_allclose` says it), or None."""
    got_shape, want_shape = shape_of(got), shape_of(want)
    if got_shape != want_shape:
        return f"{name}: shape {got_shape} but expected shape {want_shape}"
    flat_want = [pair for pair in _flatten(want)]
    bad, first, k = 0, None, 0
    for index, a in _flatten(got):
        e = flat_want[k][1]
        k += 1
        if not _close(a, e, rtol, atol):
            bad += 1
            if first is None:
                first = (index, a, e)
    if not bad:
        return None
    index, a, e = first
    where = f"at index {index}" if index else "(a scalar)"
    return (f"{name}: {bad} of {k} values differ; first {where}: got {a!r}, expected {e!r} "
            f"(difference {_abs(a - e) if _isfinite(a) and _isfinite(e) else 'not finite'}, "
            f"allowed {atol} + {rtol} * |expected|)")


def assert_allclose(actual, expected, rtol=1e-6, atol=0.0, name="result"):
    r"""Check ``|actual - expected| <= atol + rtol * |expected|`` elementwise, in plain Python.

    Parameters
    ----------
    actual : array_like
        What the learner's code returned (ndarray, NumPy scalar, number, nested lists).
    expected : array_like
        The reference value; its shape is the one required.
    rtol, atol : float
        Relative and absolute tolerance, with NumPy's asymmetric meaning
        (relative to ``expected``). NaN matches only NaN, infinity only the same infinity.
    name : str
        What is compared, for the message ("adam_update, draw 3").

    Raises
    ------
    AssertionError
        If the shapes differ, or with the first mismatching index, both values
        and how many elements differ.
    """
    got = to_list(actual, name)
    want = to_list(expected, f"{name} (reference)")
    message = _difference(got, want, _float(rtol), _float(atol), name)
    if message is not None:
        raise AssertionError(message)


def assert_finite(actual, name="result"):
    """Check that every value is finite (no inf, no NaN), in plain Python."""
    got = to_list(actual, name)
    for index, a in _flatten(got):
        if not _isfinite(a):
            where = f"at index {index}" if index else "(a scalar)"
            raise AssertionError(f"{name}: not finite {where}: {a!r}")


# --- naming the mistake ----------------------------------------------------------------------

class Diagnosis:
    r"""Compare an answer with the reference and with known mistakes; name the mistake it matches.

    A hidden test knows the wrong answers learners write for a part (a sign
    error, a missing bias correction, a step off by one). Each is a small
    function beside the test with the right function's signature. On every
    draw the test runs the learner's function, the reference and each mistake
    still in the running, and hands their outputs to :meth:`compare`. A mistake
    stays in the running while the learner's output agrees with it on every
    comparison made so far (where the test gives no value for a mistake, that
    mistake's value is the reference's).

    If the answer differs from the reference somewhere, :meth:`finish` (or the
    end of the ``with`` block) raises ``AssertionError``: with the message of
    the one mistake the answer matched on *every* comparison, followed by the
    first difference from the right answer; with every candidate named when
    several matched everywhere (they cannot be told apart on these draws);
    and with the first difference alone when none did, as
    :func:`assert_allclose` would say it. A partial match is never a
    diagnosis. As soon as the answer has differed and no mistake is left in
    the running, the error is raised at once, so a wrong answer costs no more
    time than a right one.

    Parameters
    ----------
    mistakes : dict
        Name of each known mistake -> what to tell a learner whose answer
        matches it, with where to read up: ``{"no bias correction": "your update
        matches Adam without bias correction: see chapter 4, Adam, equation (4.7)"}``.

    Examples
    --------
    A part whose learners forget the bias correction::

        with Diagnosis({"no bias correction": "your update matches Adam without ..."}) as diagnosis:
            for draw in range(10):
                ...                             # random arrays and hyperparameters
                got = adam_update(w1, g, m1, v1, lr, 0)
                want = reference(w2, g, m2, v2, lr, 0)
                mistakes = {name: MISTAKES[name](w3, g, m3, v3, lr, 0)
                            for name in diagnosis.candidates}
                diagnosis.compare(got, want, mistakes, rtol=1e-5, name=f"adam_update, draw {draw}")

    Only the mistakes still in the running (:attr:`candidates`) need to be
    run. Checks that are not comparisons of values (a type, a count) go
    through :meth:`check`. Like :func:`assert_allclose`, every comparison is
    made in plain Python, with types and operators no notebook can replace.
    """

    def __init__(self, mistakes):
        self._messages = _dict(mistakes)
        self._running = [name for name in self._messages]
        self._first = None

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is None:
            self.finish()
        return False

    @property
    def candidates(self):
        """The names of the mistakes the answer has matched on every comparison so far."""
        return [name for name in self._running]

    @property
    def failed(self):
        """Whether the answer has differed from the reference (skip checks that only repeat it)."""
        return self._first is not None

    def compare(self, actual, expected, mistakes=None, rtol=1e-6, atol=0.0, name="result"):
        """Compare ``actual`` with ``expected``, and with each mistake's value in ``mistakes``.

        Parameters
        ----------
        actual : array_like
            The learner's value (ndarray, NumPy scalar, number, nested lists).
            Anything else raises ``AssertionError`` at once, as in :func:`to_list`.
        expected : array_like
            The reference's value.
        mistakes : dict, optional
            Mistake name -> the value that mistake gives here. A mistake left
            out gives ``expected``. Values of mistakes no longer in the running
            are ignored.
        rtol, atol, name
            As in :func:`assert_allclose`; the same tolerances decide whether
            the answer matches a mistake.
        """
        rtol, atol = _float(rtol), _float(atol)
        got = to_list(actual, name)
        difference = _difference(got, to_list(expected, f"{name} (reference)"), rtol, atol, name)
        matches = {}
        for key in (mistakes or {}):
            if key not in self._messages:
                raise KeyError(f"Diagnosis.compare: {key!r} is not one of the mistakes given")
            if key in self._running:
                try:
                    value = to_list(mistakes[key], f"{name} ({key})")
                except AssertionError:  # the mistake's own value is not numbers: no match
                    matches[key] = False
                else:
                    matches[key] = _difference(got, value, rtol, atol, name) is None
        self.check(difference is None, difference, matches)

    def check(self, ok, message, matches=None):
        """Record one check: ``ok`` if the answer agrees with the reference here.

        Parameters
        ----------
        ok : bool
            The answer passes this check.
        message : str
            What to say if it does not (and no mistake explains it).
        matches : dict, optional
            Mistake name -> whether the answer agrees with that mistake here;
            a mistake left out agrees exactly when ``ok`` is true.

        Raises
        ------
        AssertionError
            With the first difference, once the answer has differed and no
            mistake is left in the running.
        """
        matches = matches or {}
        self._running = [key for key in self._running if (matches[key] if key in matches else ok)]
        if not ok and self._first is None:
            self._first = f"{message}"
        if self._first is not None and not self._running:
            raise AssertionError(self._first)

    def finish(self):
        """Raise ``AssertionError`` if the answer differed anywhere, naming the mistake it matched.

        Does nothing for an answer that agreed with the reference on every comparison.
        """
        if self._first is None:
            return
        if _length(self._running) == 1:
            raise AssertionError(f"{self._messages[self._running[0]]}. "
                                 f"The first difference from the right answer: {self._first}")
        named, k = [], 0
        for key in self._running:
            k += 1
            named.append(f"({k}) {self._messages[key]}")
        named = "; ".join(named)
        raise AssertionError(f"your answer matches {_length(self._running)} known mistakes on every test, "
                             f"which these tests cannot tell apart: {named}. "
                             f"The first difference from the right answer: {self._first}")


# --- the reference, loaded anew --------------------------------------------------------------

def _is_gdlib_name(name):
    return isinstance(name, str) and (name == "gdlib" or name.startswith("gdlib.")) \
        and name != __name__


def _fresh_importer(package, cache):
    """An ``__import__`` that hands a fresh module gdlib names from fresh copies of their modules."""

    def fresh_import(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002 - __import__'s signature
        absolute = importlib.util.resolve_name("." * level + name, package) if level else name
        if not _is_gdlib_name(absolute) or not fromlist:
            # ``import gdlib.x``: the module names bound are made fresh after execution
            return _real_import(name, globals, locals, fromlist, level)
        spec = importlib.util.find_spec(absolute)
        is_package = spec is not None and spec.submodule_search_locations is not None
        names = types.SimpleNamespace()
        for item in fromlist:
            if item == "*":
                raise ImportError("fresh_reference: `from gdlib... import *` is not supported")
            sub = f"{absolute}.{item}"
            if is_package and (sub in sys.modules or importlib.util.find_spec(sub) is not None):
                setattr(names, item, _load_fresh(sub, cache))  # a submodule: no package __init__
            else:
                setattr(names, item, getattr(_load_fresh(absolute, cache), item))
        return names

    return fresh_import


def _load_fresh(module_name, cache):
    if module_name in cache:
        return cache[module_name]
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise ImportError(f"fresh_reference: cannot find the source file of {module_name!r}")
    private = f"{_FRESH_PREFIX}{next(_fresh_counter)}_{module_name.replace('.', '_')}"
    fresh_spec = importlib.util.spec_from_file_location(
        private, spec.origin, submodule_search_locations=spec.submodule_search_locations)
    module = importlib.util.module_from_spec(fresh_spec)
    # relative imports (``from .base import Optimizer``) resolve against the real package name
    package = module_name if spec.submodule_search_locations else module_name.rpartition(".")[0]
    module.__package__ = package
    module.__builtins__ = dict(vars(builtins), __import__=_fresh_importer(package, cache))
    cache[module_name] = module
    sys.modules[private] = module
    try:
        fresh_spec.loader.exec_module(module)
    finally:
        sys.modules.pop(private, None)
    # ``import gdlib.x`` bound real modules: replace them by fresh copies
    for key, value in list(vars(module).items()):
        if not key.startswith("__") and isinstance(value, types.ModuleType) and \
                _is_gdlib_name(value.__name__):
            setattr(module, key, _load_fresh(value.__name__, cache))
    return module


def fresh_reference(module_name, attr):
    """``attr`` of the module ``module_name``, from its source file executed anew under a private name.

    A notebook that replaced ``gdlib.optimizers.adam.adam_update`` (or a gdlib
    helper the reference uses, such as ``gdlib.backend.epsilon``) does not
    change what this returns: the module and the gdlib names it imported are
    fresh copies, not the objects in ``sys.modules``.

    >>> adam_update = fresh_reference("gdlib.optimizers.adam", "adam_update")
    """
    module = _load_fresh(module_name, {})
    try:
        return getattr(module, attr)
    except AttributeError:
        raise AttributeError(f"fresh_reference: {module_name} has no attribute {attr!r}") from None


# --- no credit for calling gdlib --------------------------------------------------------------

def _gdlib_origin(value):
    """``'gdlib.x.y'`` if ``value`` is (or belongs to) gdlib, else None."""
    if isinstance(value, types.ModuleType):
        name = getattr(value, "__name__", "")
        if name.startswith(_FRESH_PREFIX):
            return "module gdlib"
        return f"module {name}" if _is_gdlib_name(name) else None
    if isinstance(value, types.MethodType):
        value = value.__func__
    module = getattr(value, "__module__", None) if isinstance(
        value, (types.FunctionType, types.BuiltinFunctionType, type)) else None
    if module is None:
        module = getattr(type(value), "__module__", None)  # an instance of a gdlib class
    if isinstance(module, str) and (_is_gdlib_name(module) or module.startswith(_FRESH_PREFIX)):
        qual = getattr(value, "__qualname__", None) or type(value).__qualname__
        return f"{module}.{qual}"
    return None


def _trusted(obj):
    """NumPy's and the standard library's own code: never followed (it cannot call gdlib)."""
    top = str(getattr(obj, "__module__", None) or "").partition(".")[0]
    return top in ("numpy", "scipy") or top in sys.stdlib_module_names


def _global_names(code):
    """Names the code reads as globals (not attribute names: ``np.sqrt`` reads ``np`` only)."""
    return {ins.argval for ins in dis.get_instructions(code)
            if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")}


def _code_objects(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def uses_gdlib(fn):
    """Where ``fn`` refers to gdlib: a list of ``(name used, gdlib object)``; empty if nowhere.

    Follows the globals the function's code names (including nested functions
    and lambdas), its default arguments and closure cells, and recursively the
    functions, classes and methods the learner defined that it refers to. A
    string constant mentioning gdlib (``importlib.import_module("gdlib...")``)
    counts too.
    """
    found, seen = [], set()

    def visit(obj, label):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        origin = _gdlib_origin(obj)
        if origin is not None:
            found.append((label, origin))
            return
        if isinstance(obj, types.MethodType):
            visit(obj.__func__, label)
        elif isinstance(obj, (staticmethod, classmethod)):
            visit(obj.__func__, label)
        elif isinstance(obj, property):
            for part in (obj.fget, obj.fset, obj.fdel):
                if part is not None:
                    visit(part, label)
        elif isinstance(obj, type):
            if _trusted(obj):
                return
            for base in obj.__mro__[1:]:
                if _gdlib_origin(base):
                    found.append((label, _gdlib_origin(base)))
            for key, member in vars(obj).items():
                if isinstance(member, (types.FunctionType, staticmethod, classmethod, property)):
                    visit(member, f"{label}.{key}")
        elif isinstance(obj, types.FunctionType):
            if _trusted(obj):
                return
            scope = obj.__globals__
            for code in _code_objects(obj.__code__):
                for const in code.co_consts:
                    if isinstance(const, str) and (const == "gdlib" or const.startswith("gdlib.")):
                        found.append((label, f"the string {const!r}"))
                for name in _global_names(code):
                    if name in scope:
                        visit(scope[name], name)
            for value in (obj.__defaults__ or ()) + tuple((obj.__kwdefaults__ or {}).values()):
                visit(value, f"a default argument of {obj.__name__}")
            for cell in obj.__closure__ or ():
                try:
                    visit(cell.cell_contents, f"a variable {obj.__name__} closes over")
                except ValueError:  # an empty cell
                    pass
        elif isinstance(obj, functools.partial):
            visit(obj.func, label)
            for value in tuple(obj.args) + tuple(obj.keywords.values()):
                visit(value, label)

    visit(fn, getattr(fn, "__name__", "your function"))
    return found


class _Tripwire:
    """Stands in for a gdlib function or class while learner code runs."""

    def __init__(self, qualname, trips):
        self.qualname = qualname
        self.trips = trips

    def __call__(self, *args, **kwargs):
        self.trips.append(self.qualname)
        raise AssertionError(f"gdlib's {self.qualname} was called while grading your answer; "
                             "write it yourself")

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        self.trips.append(self.qualname)
        raise AssertionError(f"gdlib's {self.qualname}.{name} was used while grading your answer; "
                             "write it yourself")


def _install_tripwires(trips):
    saved = []
    for mod_name, module in list(sys.modules.items()):
        if not _is_gdlib_name(mod_name) or module is None:
            continue
        for key, value in list(vars(module).items()):
            if key.startswith("__"):
                continue
            if isinstance(value, (types.FunctionType, type)) and \
                    _is_gdlib_name(getattr(value, "__module__", None)):
                saved.append((module, key, value))
                setattr(module, key, _Tripwire(f"{value.__module__}.{value.__qualname__}", trips))
    return saved


def _message(name, used, what):
    if used.startswith(("module ", "the string ")):
        return f"your {name} uses gdlib ({used}); write {what} yourself, with NumPy only"
    short = used.rsplit(".", 1)[-1]
    return (f"your {name} calls gdlib's {short} ({used}); write {what} yourself, "
            "with NumPy only")


@contextlib.contextmanager
def forbid_gdlib(fn, name=None, what="it"):
    """Inside ``with forbid_gdlib(fn):``, calling ``fn`` must not rely on gdlib.

    On entry, ``fn`` is rejected if its code refers to gdlib (see
    :func:`uses_gdlib`). While the block runs, every function and class of
    every imported gdlib module is replaced by a tripwire; a tripped wire fails
    the block on exit even if the learner's code caught the error. Compute the
    reference outside the block (or with :func:`fresh_reference`, which is not
    affected).

    Parameters
    ----------
    fn : callable
        The learner's function.
    name : str, optional
        Its name in messages (default ``fn.__name__``).
    what : str
        What to write instead, in messages ("the update").

    Raises
    ------
    AssertionError
        "your adam_update calls gdlib's adam_update (gdlib.optimizers.adam.adam_update);
        write the update yourself, with NumPy only".
    """
    name = name or getattr(fn, "__name__", "function")
    found = uses_gdlib(fn)
    if found:
        raise AssertionError(_message(name, found[0][1], what))
    trips = []
    saved = _install_tripwires(trips)
    try:
        try:
            yield
        except AssertionError:
            if trips:
                raise AssertionError(_message(name, trips[0], what)) from None
            raise
    finally:
        for module, key, value in saved:
            setattr(module, key, value)
    if trips:
        raise AssertionError(_message(name, trips[0], what))


# --- gradient checks ---------------------------------------------------------------------------

def numerical_gradient(f, x, h=1e-5):
    r"""Central-difference gradient of the scalar ``f(x)`` at ``x``, in float64.

    .. math::

        \frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}

    ``x`` is copied to float64 first (the caller's array is not touched); ``f``
    receives a float64 array of the same shape and returns a number.
    Returns nested lists (as :func:`to_list`), or a float if ``x`` is a scalar.
    """
    point = numpy.array(x, dtype=numpy.float64)
    flat = point.reshape(-1)
    grad = [0.0] * flat.size
    for i in range(flat.size):
        original = _float(flat[i])
        flat[i] = original + h
        f_plus = _float(to_list(f(_ndarray_copy(point)), "f(x + h)"))
        flat[i] = original - h
        f_minus = _float(to_list(f(_ndarray_copy(point)), "f(x - h)"))
        flat[i] = original
        grad[i] = (f_plus - f_minus) / (2.0 * h)
    return _reshape(grad, point.shape)


def _reshape(flat, shape):
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return list(flat)
    step = len(flat) // shape[0] if shape[0] else 0
    return [_reshape(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def relative_error(analytic, numerical):
    r"""``||a - n|| / max(||a|| + ||n||, 1e-12)`` in plain Python (``inf`` if anything is not finite)."""
    a = [v for _, v in _flatten(to_list(analytic, "analytic gradient"))]
    n = [v for _, v in _flatten(to_list(numerical, "numerical gradient"))]
    if _length(a) != _length(n):
        raise AssertionError(f"gradient has {_length(a)} values but the point has {_length(n)}")
    diff = norm_a = norm_n = 0.0
    k = 0
    for p in a:
        q = n[k]
        k += 1
        if not (_isfinite(p) and _isfinite(q)):
            return _INF
        diff += (p - q) * (p - q)
        norm_a += p * p
        norm_n += q * q
    scale = norm_a ** 0.5 + norm_n ** 0.5
    return diff ** 0.5 / (scale if scale > 1e-12 else 1e-12)


def gradient_check(f, x, analytic, h=1e-5, tol=1e-6, name="gradient"):
    r"""Check ``analytic`` against the central-difference gradient of ``f`` at ``x``, in float64.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``, the function differentiated (use a trusted one: a
        :func:`fresh_reference` or plain Python, not the learner's).
    x : array_like
        The point.
    analytic : array_like
        The gradient to check, same shape as ``x``.
    h : float
        Step of the central difference.
    tol : float
        Largest relative error accepted (:func:`relative_error`).
    name : str
        What is checked, for the message.

    Returns
    -------
    float
        The relative error.
    """
    point = to_list(x, "x")
    got = to_list(analytic, name)
    if shape_of(got) != shape_of(point):
        raise AssertionError(f"{name}: shape {shape_of(got)} but the gradient of a value of "
                             f"shape {shape_of(point)} has that shape")
    numerical = numerical_gradient(f, x, h)
    error = relative_error(got, numerical)
    if not error <= tol:
        raise AssertionError(f"{name}: gradient check failed, relative error {error:.3g} "
                             f"(allowed {tol:g}) against central differences")
    return error
