"""nbgrader's ``Execute`` with the limits learner code cannot talk its way out of.

* The kernel is the guard kernel (:mod:`course_grading.guard_kernel`) in a
  sandbox (:mod:`course_grading.sandbox`). Every execute request says which cell
  it is; autograded test cells are marked so the guard runs them on restored
  ground. Each test cell's reply must carry the guard's verdict with a valid
  attestation; the verdicts, what the guard found, and the test cells that came
  back without a verdict are written to ``report_path`` (JSON) for the grader.
* A cell past its timeout is interrupted, as nbgrader does; if it has not
  stopped ``interrupt_grace`` seconds later (code that swallows
  ``KeyboardInterrupt``), the kernel is killed and the notebook ends with
  :class:`InterruptIgnored` instead of waiting out the timeout in every
  remaining cell.
* Every message a cell sends (streams, displays, display updates, errors, widget
  comms) counts against ``max_output_bytes`` per cell; the rest is dropped as it
  arrives, and error text from the kernel's reply is cut short, so neither the
  notebook nor the grader's memory can be flooded.
* A kernel started ahead of time for this submission (``kernel_source``) is used
  instead of starting one: it was started in its own sandbox, for it only.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import os
from queue import Empty

from jupyter_core.utils import run_sync
from nbclient.util import ensure_async
from nbformat import NotebookNode
from traitlets import Any, Float, Integer, Unicode

from nbgrader.preprocessors import Execute

from .course import Limits
from .guard_kernel import sign

MAX_ERROR_TEXT = 2000


class InterruptIgnored(Exception):
    """A cell ran past its timeout and did not stop when interrupted."""


class KernelStartError(Exception):
    """The kernel could not be started: a fault of the grading environment, not of the learner."""


def is_test_cell(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def cell_label(cell, index: int) -> str:
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    return f"cell {grade_id}" if isinstance(grade_id, str) else f"code cell {index + 1}"


def _short(text, limit=MAX_ERROR_TEXT) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} characters cut]"


class GuardedExecute(Execute):
    interrupt_grace = Float(Limits.interrupt_grace).tag(config=True)  # defaults: Limits
    max_output_bytes = Integer(Limits.output).tag(config=True)
    report_path = Unicode("", help="where to write the guard's verdicts (JSON)").tag(config=True)
    kernel_source = Any(None, allow_none=True,
                        help="an object whose take((assignment, student), kernel_name) returns "
                             "a kernel manager started for that submission, or None").tag(config=True)

    def __init__(self, *args, **kwargs):
        from .sandbox import SandboxedKernelManager

        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)
        self.store_widget_state = False

    # --- the run, and what it reports ---------------------------------------------------------

    def preprocess(self, nb, resources=None, retry=None):
        self._output_bytes: dict[int, int] = {}
        self._report = {"verdicts": [], "unattested": [], "findings": [], "dropped_output": []}
        try:
            return super().preprocess(nb, resources, retry)
        finally:
            if self.report_path:
                name = (resources or {}).get("nbgrader", {}).get("notebook", "notebook")
                path = os.path.join(self.report_path, f"{name}.json")
                with open(path, "w") as fh:
                    json.dump(self._report, fh)

    def create_kernel_manager(self):
        wanted = self.kernel_name or self.nb.metadata.get("kernelspec", {}).get("name") or "python3"
        info = (self.resources or {}).get("nbgrader", {})
        submission = (info.get("assignment"), info.get("student"))
        km = self.kernel_source.take(submission, wanted) if self.kernel_source is not None else None
        if km is not None:
            self.log.info("Using the kernel started ahead in its own sandbox")
            self.km = km
            return km
        return super().create_kernel_manager()

    async def async_start_new_kernel_client(self):
        try:
            return await super().async_start_new_kernel_client()
        except Exception as err:  # any failure to start is the environment's
            raise KernelStartError(f"the kernel could not start: {type(err).__name__}: "
                                   f"{_short(err, 300)}") from err

    async def async_start_new_kernel(self, **kwargs):
        try:
            return await super().async_start_new_kernel(**kwargs)
        except Exception as err:
            raise KernelStartError(f"the kernel could not start: {type(err).__name__}: "
                                   f"{_short(err, 300)}") from err

    # nbclient binds its synchronous wrappers to its own coroutines when its class is made
    start_new_kernel_client = run_sync(async_start_new_kernel_client)
    start_new_kernel = run_sync(async_start_new_kernel)

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if self.kc is not None:
            self.kc.cell_metadata = {"label": cell_label(cell, cell_index),
                                     "test": is_test_cell(cell)}
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    execute_cell = run_sync(async_execute_cell)  # as above

    def on_cell_executed(self, **kwargs):
        super().on_cell_executed(**kwargs)
        cell, reply = kwargs["cell"], kwargs["execute_reply"]
        for output in cell.outputs:  # error text from the reply is not counted as output
            if output.get("output_type") == "error":
                output.evalue = _short(output.get("evalue", ""))
                output.traceback = [_short(line) for line in output.get("traceback", [])[:20]]
        if not is_test_cell(cell):
            return
        label = cell_label(cell, kwargs["cell_index"])
        verdict = reply.get("content", {}).get("cg_guard")
        token = getattr(self.km, "token", b"")
        if not (isinstance(verdict, dict) and token and verdict.get("cell") == label
                and isinstance(verdict.get("mac"), str)
                and hmac.compare_digest(verdict["mac"], sign(token, verdict))):
            self._report["unattested"].append(label)
            return
        self._report["verdicts"].append({k: verdict.get(k) for k in (
            "cell", "passed", "ename", "evalue", "tampered_before", "tampered_during",
            "gdlib_error")})
        self._report["findings"] = list(verdict.get("findings") or [])
        if not verdict["passed"] and not any(o.get("output_type") == "error" for o in cell.outputs):
            # the guard's own error output did not arrive (dropped as output past the cap)
            cell.outputs.append(NotebookNode(
                output_type="error", ename=verdict.get("ename") or "Error",
                evalue=_short(verdict.get("evalue") or ""),
                traceback=[f"{verdict.get('ename')}: {_short(verdict.get('evalue') or '')}"]))

    # --- time and output limits -------------------------------------------------------------

    async def _async_handle_timeout(self, timeout, cell=None):
        self.log.error("Timeout waiting for execute reply (%is); interrupting", timeout)
        await ensure_async(self.km.interrupt_kernel())
        try:
            # the interrupted cell's reply; code that catches KeyboardInterrupt never sends it
            await ensure_async(self.kc.shell_channel.get_msg(timeout=self.interrupt_grace))
        except (Empty, asyncio.TimeoutError):
            self.log.error("The cell ignored the interrupt; killing the kernel")
            await ensure_async(self.km.shutdown_kernel(now=True))
            raise InterruptIgnored(
                f"a cell ran past the {timeout} s cell timeout and ignored the interrupt") from None
        return {"content": {**self.error_on_timeout, "status": "error"}}

    def process_message(self, msg, cell, cell_index):
        msg_type = msg.get("msg_type")
        if msg_type not in ("status", "execute_input"):
            used = self._output_bytes.get(cell_index, 0)
            used += len(str(msg.get("content", "")))
            self._output_bytes[cell_index] = used
            if used > self.max_output_bytes:
                if cell_index not in self._report["dropped_output"]:
                    self._report["dropped_output"].append(cell_index)
                    cell.outputs.append(NotebookNode(
                        output_type="stream", name="stderr",
                        text=f"[output beyond {self.max_output_bytes} bytes dropped by the grader]\n"))
                return None
        return super().process_message(msg, cell, cell_index)
