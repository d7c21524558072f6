"""nbgrader's ``Execute`` with the limits learner code cannot talk its way out of.

* A cell past its timeout is interrupted, as nbgrader does; if it has not
  stopped ``interrupt_grace`` seconds later (code that swallows
  ``KeyboardInterrupt``), the kernel is killed and the notebook ends with
  :class:`InterruptIgnored` instead of waiting out the timeout in every
  remaining cell.
* Output beyond ``max_output_bytes`` per cell is dropped as it arrives, so a
  print loop cannot fill the grader's memory.
* A kernel started ahead of time for this submission's folder (see
  :func:`course_grading.worker._Grader.prestart`) is used instead of starting one,
  once: it was started in its own sandbox, for this folder only.
"""
from __future__ import annotations

import asyncio
import os
from queue import Empty

from nbclient.util import ensure_async
from nbformat import NotebookNode
from traitlets import Float, Integer

from nbgrader.preprocessors import Execute


# realpath of a submission's autograded folder -> a kernel manager whose sandboxed kernel was
# started for that folder and nothing else; taken (once) by the first notebook executed there
PRESTARTED: dict = {}
# the sandbox user of the submission being graded, for kernels started the usual way
CURRENT = {"uid": None}


class InterruptIgnored(Exception):
    """A cell ran past its timeout and did not stop when interrupted."""


class GuardedExecute(Execute):
    interrupt_grace = Float(3.0).tag(config=True)
    max_output_bytes = Integer(1_000_000).tag(config=True)

    _output_bytes: dict

    def __init__(self, *args, **kwargs):
        from .sandbox import SandboxedKernelManager

        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)

    def create_kernel_manager(self):
        from .sandbox import hand_over

        path = os.path.realpath((self.resources or {}).get("metadata", {}).get("path") or os.getcwd())
        km = PRESTARTED.pop(path, None)
        wanted = self.kernel_name or self.nb.metadata.get("kernelspec", {}).get("name")
        if km is not None:
            process = getattr(km.provisioner, "process", None)
            alive = process is not None and process.poll() is None
            if alive and (not wanted or km.kernel_name == wanted):
                if km.sandbox:
                    hand_over(path, km.sandbox_uid)  # the notebook nbgrader has written since
                self.log.info("Using the kernel started ahead in its own sandbox for %s", path)
                self.km = km
                return km
            self.log.warning("The kernel started ahead for %s is gone; starting another", path)
            discard(km)
        km = super().create_kernel_manager()
        if CURRENT["uid"] is not None:
            km.sandbox_uid = CURRENT["uid"]
        return km

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

    def output(self, outs, msg, display_id, cell_index):
        if not hasattr(self, "_output_bytes"):
            self._output_bytes = {}
        size = len(str(msg.get("content", "")))
        used = self._output_bytes.get(cell_index, 0)
        self._output_bytes[cell_index] = used + size
        if used + size > self.max_output_bytes:
            if used <= self.max_output_bytes:
                outs.append(NotebookNode(output_type="stream", name="stderr",
                                         text=f"[output beyond {self.max_output_bytes} bytes "
                                              "dropped by the grader]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)


def discard(km) -> None:
    """End a kernel started ahead of time that will not be used, and remove its sockets."""
    import shutil

    process = getattr(getattr(km, "provisioner", None), "process", None)
    if process is not None and process.poll() is None:
        process.kill()  # bwrap: its pid namespace, and every process in it, ends too
        process.wait()
    sockdir = getattr(km, "_sockdir", None)
    if sockdir:
        shutil.rmtree(sockdir, ignore_errors=True)
        km._sockdir = None
