"""Run a learner's kernel inside bubblewrap, with resource limits.

The grader (nbgrader, the gradebook, the solutions) stays outside; only the
kernel runs inside the sandbox.  The kernel and the grader talk over ZeroMQ
``ipc`` (unix) sockets in a private folder bound into the sandbox, so the
sandbox can have no network at all.

Inside the sandbox the kernel sees, read-only: the system (``/usr``, ``/etc``),
the Python installation, the virtual environment and this checkout's
``gdlib``; read-write: only the folder of the notebook it runs, its own socket
folder and an empty ``/tmp``.  It runs as an unprivileged user of its own: two per
grading process, taken in turns, so the kernel started ahead for the next
submission never shares a user with the one still running, and the process limit
counts only one submission's processes.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import time
from queue import Empty

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, DottedObjectName, Float, Integer, Type

SANDBOX_UID_BASE = 61000


def bwrap_available() -> bool:
    return shutil.which("bwrap") is not None


def _real(path) -> str:
    return os.path.realpath(path)


def readonly_paths() -> list[str]:
    """What learner code needs to read: Python, the venv and this checkout's gdlib."""
    paths = {_real(sys.base_prefix), _real(sys.prefix)}
    spec = importlib.util.find_spec("gdlib")
    if spec is not None:
        for loc in (spec.submodule_search_locations or [os.path.dirname(spec.origin)]):
            if os.path.isdir(loc):
                paths.add(_real(loc))
    # drop paths nested inside another one
    out = []
    for p in sorted(paths):
        if not any(p != q and p.startswith(q + os.sep) for q in paths):
            out.append(p)
    return out


def hand_over(workdir: str, uid: int) -> None:
    """Make the learner's folder (and everything in it) the sandbox user's, hence writable by it."""
    for dirpath, dirnames, filenames in os.walk(workdir):
        os.chown(dirpath, uid, uid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), uid, uid)


def sandbox_command(argv: list[str], *, workdir: str, sockdir: str, uid: int,
                    memory: int, processes: int, file_size: int) -> list[str]:
    """Wrap ``argv`` so it runs limited (prlimit), unprivileged (setpriv) and isolated (bwrap)."""
    cmd = ["prlimit", f"--as={memory}", f"--nproc={processes}", f"--fsize={file_size}",
           "--core=0", "--"]
    # bwrap runs as root to build the mounts; the kernel itself runs as `uid`, which
    # holds no capability and whose processes the RLIMIT_NPROC above counts
    cmd += ["bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent",
            "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
            "--ro-bind", "/usr", "/usr",
            "--ro-bind-try", "/etc", "/etc"]
    for name in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink(f"/{name}"):
            cmd += ["--symlink", os.readlink(f"/{name}"), f"/{name}"]
        elif os.path.isdir(f"/{name}"):
            cmd += ["--ro-bind", f"/{name}", f"/{name}"]
    # The private /tmp comes first: a checkout (and so its venv and gdlib) may itself live under
    # /tmp, as a CI clone can, and a tmpfs mounted later would hide the binds below.
    cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--chmod", "1777", "/tmp"]
    # parent folders bwrap creates for the mounts below must be traversable by `uid`
    parents = set()
    for path in readonly_paths() + [workdir, sockdir]:
        parent = os.path.dirname(path)
        while parent not in ("/", "/tmp", "") and not parent.startswith("/usr/"):
            parents.add(parent)
            parent = os.path.dirname(parent)
    for parent in sorted(parents):
        cmd += ["--perms", "0755", "--dir", parent]
    for path in readonly_paths():
        cmd += ["--ro-bind", path, path]
    cmd += ["--bind", workdir, workdir, "--bind", sockdir, sockdir, "--chdir", workdir,
            "--clearenv",
            "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp",
            "--setenv", "PATH", f"{os.path.dirname(sys.executable)}:/usr/bin:/bin",
            "--setenv", "IPYTHONDIR", "/tmp/.ipython", "--setenv", "MPLCONFIGDIR", "/tmp",
            "--setenv", "JUPYTER_RUNTIME_DIR", "/tmp", "--setenv", "MPLBACKEND", "Agg",
            "--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "OMP_NUM_THREADS", "1",
            "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            "--setenv", "NBGRADER_EXECUTION", "autograde",
            "--"]
    cmd += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--"]
    return cmd + argv


class ReadyClient(AsyncKernelClient):
    """A kernel client whose ``wait_for_ready`` ends when the kernel is ready, not 0.2 s later.

    jupyter_client's version, once the kernel answers ``kernel_info``, waits until
    IOPub has been silent for 0.2 s.  This one sends ``kernel_info`` until the
    reply has come on the shell channel *and* the kernel's "idle" status for that
    same request has come on IOPub (which proves IOPub is subscribed), then
    returns.  Messages left on IOPub belong to other requests, which nbclient ignores.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            msg_id = self.kernel_info()
            replied = idle = False
            step_end = time.monotonic() + 1.0
            while not (replied and idle) and time.monotonic() < step_end:
                if not replied:
                    try:
                        msg = await self.shell_channel.get_msg(timeout=0.05)
                    except Empty:
                        pass
                    else:
                        if (msg["msg_type"] == "kernel_info_reply"
                                and msg["parent_header"].get("msg_id") == msg_id):
                            self._handle_kernel_info_reply(msg)
                            replied = True
                try:
                    msg = await self.iopub_channel.get_msg(timeout=0.05)
                except Empty:
                    continue
                idle = idle or (msg["msg_type"] == "status"
                                and msg["parent_header"].get("msg_id") == msg_id
                                and msg["content"].get("execution_state") == "idle")
            if replied and idle:
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs in the sandbox described above.

    ``sandbox=False`` keeps the limits and the ``-P`` interpreter flag (no
    shadowing by a ``numpy.py`` next to the notebook) but drops bubblewrap.
    """

    sandbox = Bool(True).tag(config=True)
    sandbox_uid = Integer(SANDBOX_UID_BASE).tag(config=True)
    memory_limit = Integer(3 * 2**30).tag(config=True)
    process_limit = Integer(256).tag(config=True)
    file_size_limit = Integer(64 * 2**20).tag(config=True)
    startup_timeout = Float(60).tag(config=True)
    client_class = DottedObjectName("course_grading.sandbox.ReadyClient")
    client_factory = Type(ReadyClient, klass=AsyncKernelClient)

    _sockdir = None

    def _make_sockdir(self) -> str:
        if self._sockdir is None:
            self._sockdir = tempfile.mkdtemp(prefix="cg-kernel-")
            os.chown(self._sockdir, self.sandbox_uid, self.sandbox_uid)
            self.transport = "ipc"
            self.ip = os.path.join(self._sockdir, "k")
            self.connection_file = os.path.join(self._sockdir, "kernel.json")
        return self._sockdir

    async def _async_pre_start_kernel(self, **kw):
        self._make_sockdir()
        if self.sandbox and self.kernel_spec is not None:
            # a signal from outside does not reach the kernel's handler through bwrap's
            # init; ask the kernel to interrupt itself over its control socket instead
            self.kernel_spec.interrupt_mode = "message"
        return await super()._async_pre_start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments=None):
        workdir = _real(self._launch_args.get("cwd") or os.getcwd())
        hand_over(workdir, self.sandbox_uid)
        argv = [sys.executable, "-P", "-m", "ipykernel_launcher",
                "-f", os.path.realpath(self.connection_file)] + list(extra_arguments or [])
        if not self.sandbox:
            # no bwrap --die-with-parent here: setpriv asks Linux to end the kernel with its grader
            return ["prlimit", f"--as={self.memory_limit}", f"--fsize={self.file_size_limit}",
                    "--core=0", "--", "setpriv", "--pdeathsig", "KILL", "--"] + argv
        return sandbox_command(argv, workdir=workdir, sockdir=self._sockdir,
                               uid=self.sandbox_uid, memory=self.memory_limit,
                               processes=self.process_limit, file_size=self.file_size_limit)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        # the connection file (written 0600 by root) must be readable by the kernel
        if os.path.exists(self.connection_file):
            os.chown(self.connection_file, self.sandbox_uid, self.sandbox_uid)
        return await super()._async_launch_kernel(kernel_cmd, **kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self._sockdir:
            shutil.rmtree(self._sockdir, ignore_errors=True)
            self._sockdir = None
