"""Run a learner's kernel inside bubblewrap, with resource limits and the grading guard.

The grader (nbgrader, the gradebook, the solutions) stays outside; only the
kernel runs inside the sandbox. The kernel and the grader talk over ZeroMQ
``ipc`` (unix) sockets in a private folder bound into the sandbox, so the
sandbox can have no network at all.

Inside the sandbox the kernel sees, read-only: the system (``/usr``, ``/etc``),
the Python installation and the virtual environment, the course's ``gdlib``
(mounted at ``/run/cg/lib/gdlib`` and first on ``PYTHONPATH``, so the kernel
imports the gdlib of the course being graded, whatever the environment has
installed) and the guard (:mod:`course_grading.guard_kernel`, started as the
kernel's main script). It can write only to its socket folder and to its own
``/tmp``, a tmpfs of ``disk`` bytes that is also its working folder
(``/tmp/work``): files the learner's code makes never reach a folder the grader
reads or writes, and they vanish with the sandbox. It runs as an unprivileged
user of its own (two per grading process, taken in turns), so the kernel started
ahead for the next submission never shares a user, nor the process limit, with
the one still running.
"""
from __future__ import annotations

import os
import secrets
import shutil
import stat
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty

import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.connect import channel_socket_types
from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, DottedObjectName, Float, Integer, Type, Unicode

from .course import Limits

GUARD_FILE = str(Path(__file__).resolve().parent / "guard_kernel.py")
INSIDE = "/run/cg"                       # where the course's gdlib and the guard appear
INSIDE_LIBRARY = f"{INSIDE}/lib"
INSIDE_GUARD = f"{INSIDE}/guard_kernel.py"
WORKDIR = "/tmp/work"
# Largest message the grader accepts from a kernel (a larger one closes the connection, and the
# cell ends as a timeout); the grading process as a whole is capped too (see worker.serve).
MAX_MESSAGE_BYTES = 128 * 2**20


def bwrap_available() -> bool:
    return shutil.which("bwrap") is not None


def _real(path) -> str:
    return os.path.realpath(path)


def readonly_paths() -> list[str]:
    """What learner code needs to read besides the system: Python and the virtual environment."""
    paths = {_real(sys.base_prefix), _real(sys.prefix)}
    return [p for p in sorted(paths) if not any(p != q and p.startswith(q + os.sep) for q in paths)]


def sandbox_command(argv: list[str], *, library: str, sockdir: str, uid: int, memory: int,
                    processes: int, file_size: int, disk: int) -> list[str]:
    """Wrap ``argv`` so it runs limited (prlimit), unprivileged (setpriv) and isolated (bwrap)."""
    cmd = ["prlimit", f"--as={memory}", f"--nproc={processes}", f"--fsize={file_size}",
           "--core=0", "--"]
    # bwrap runs as root to build the mounts; the kernel itself runs as `uid`, which holds no
    # capability and whose processes the RLIMIT_NPROC above counts
    cmd += ["bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
            "--ro-bind", "/usr", "/usr",
            "--ro-bind-try", "/etc", "/etc"]
    for name in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink(f"/{name}"):
            cmd += ["--symlink", os.readlink(f"/{name}"), f"/{name}"]
        elif os.path.isdir(f"/{name}"):
            cmd += ["--ro-bind", f"/{name}", f"/{name}"]
    # The private /tmp comes first: a checkout (and so its venv) may itself live under /tmp, as a
    # CI clone can, and a tmpfs mounted later would hide the binds below. Its size is the disk cap
    # of the whole submission, and it is RAM: a submission holds at most memory + disk.
    cmd += ["--proc", "/proc", "--dev", "/dev",
            "--size", str(disk), "--tmpfs", "/tmp", "--chmod", "1777", "/tmp",
            "--perms", "0777", "--dir", WORKDIR]
    # parent folders bwrap creates for the mounts below must be traversable by `uid`
    parents = {os.path.dirname(INSIDE_LIBRARY), INSIDE_LIBRARY}
    for path in readonly_paths() + [sockdir]:
        parent = os.path.dirname(path)
        while parent not in ("/", "/tmp", "") and not parent.startswith("/usr/"):
            parents.add(parent)
            parent = os.path.dirname(parent)
    for parent in sorted(parents):
        cmd += ["--perms", "0755", "--dir", parent]
    for path in readonly_paths():
        cmd += ["--ro-bind", path, path]
    cmd += ["--ro-bind", library, f"{INSIDE_LIBRARY}/gdlib", "--ro-bind", GUARD_FILE, INSIDE_GUARD,
            "--bind", sockdir, sockdir, "--chdir", WORKDIR,
            "--clearenv",
            "--setenv", "PYTHONPATH", INSIDE_LIBRARY,
            "--setenv", "HOME", WORKDIR, "--setenv", "TMPDIR", "/tmp",
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
    """The grader's client of one sandboxed kernel.

    * ``wait_for_ready`` ends when the kernel is ready, not 0.2 s later: it sends
      ``kernel_info`` until the reply has come on the shell channel *and* the
      kernel's "idle" status for that same request has come on IOPub (which
      proves IOPub is subscribed). jupyter_client's version waits until IOPub has
      been silent for 0.2 s.
    * Its sockets refuse messages over :data:`MAX_MESSAGE_BYTES`.
    * ``cell_metadata`` is sent with the next execute request (the guard reads
      which cell it is, and whether it is an autograded test cell).
    """

    cell_metadata: dict | None = None

    def _create_connected_socket(self, channel, identity=None):
        url = self._make_url(channel)
        sock = self.context.socket(channel_socket_types[channel])
        sock.linger = 1000
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        if identity:
            sock.identity = identity
        sock.connect(url)
        return sock

    def execute(self, code, silent=False, store_history=True, user_expressions=None,
                allow_stdin=None, stop_on_error=True):
        content = {"code": code, "silent": silent, "store_history": store_history,
                   "user_expressions": user_expressions or {}, "allow_stdin": False,
                   "stop_on_error": stop_on_error}
        msg = self.session.msg("execute_request", content)
        msg["metadata"] = {"cg": self.cell_metadata or {}}
        self.shell_channel.send(msg)
        return msg["header"]["msg_id"]

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
    """A kernel manager whose kernel is the guard kernel, in the sandbox described above.

    ``sandbox=False`` keeps the guard, the limits (but ``disk``), the ``-P``
    interpreter flag (no shadowing by a ``numpy.py`` next to the notebook) and a
    private working folder, but drops bubblewrap: only for trusted notebooks.
    """

    # the limits' defaults live in Limits alone; Limits.configure sets these
    sandbox = Bool(Limits.sandbox).tag(config=True)
    sandbox_uid = Integer(62000).tag(config=True)
    memory_limit = Integer(Limits.memory).tag(config=True)
    process_limit = Integer(Limits.processes).tag(config=True)
    file_size_limit = Integer(Limits.file_size).tag(config=True)
    disk_limit = Integer(Limits.disk).tag(config=True)
    library = Unicode(help="the gdlib package folder the kernel imports").tag(config=True)
    run_dir = Unicode(help="the autograde run's private folder (sockets, work folders)").tag(config=True)
    startup_timeout = Float(60).tag(config=True)
    client_class = DottedObjectName("course_grading.sandbox.ReadyClient")
    client_factory = Type(ReadyClient, klass=AsyncKernelClient)

    _sockdir = None
    token: bytes = b""

    def _make_sockdir(self) -> str:
        """A folder for the sockets, owned by root and sticky: the kernel adds its sockets but
        cannot remove or replace the connection file."""
        if self._sockdir is None:
            parent = self.run_dir or None
            self._sockdir = tempfile.mkdtemp(prefix="k-", dir=parent)
            os.chmod(self._sockdir, 0o1777)
            self.transport = "ipc"
            self.ip = os.path.join(self._sockdir, "k")
            self.connection_file = os.path.join(self._sockdir, "kernel.json")
        return self._sockdir

    def remove_sockdir(self) -> None:
        """Remove the socket folder (after the kernel has ended)."""
        if self._sockdir:
            shutil.rmtree(self._sockdir, ignore_errors=True)
            self._sockdir = None

    async def _async_pre_start_kernel(self, **kw):
        self._make_sockdir()
        if self.sandbox and self.kernel_spec is not None:
            # a signal from outside does not reach the kernel's handler through bwrap's
            # init; ask the kernel to interrupt itself over its control socket instead
            self.kernel_spec.interrupt_mode = "message"
        kw.pop("cwd", None)  # never the learner's folder: the kernel works in its own (see below)
        return await super()._async_pre_start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments=None):
        extra = list(extra_arguments or [])
        if not self.sandbox:
            # setpriv asks Linux to end the kernel with its grader (no bwrap --die-with-parent here)
            return ["prlimit", f"--as={self.memory_limit}", f"--fsize={self.file_size_limit}",
                    "--core=0", "--", "setpriv", "--pdeathsig", "KILL", "--",
                    sys.executable, "-P", GUARD_FILE, "-f",
                    os.path.realpath(self.connection_file)] + extra
        argv = [sys.executable, "-P", INSIDE_GUARD, "-f", os.path.realpath(self.connection_file)]
        return sandbox_command(argv + extra, library=self.library, sockdir=self._sockdir,
                               uid=self.sandbox_uid, memory=self.memory_limit,
                               processes=self.process_limit, file_size=self.file_size_limit,
                               disk=self.disk_limit)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        # the connection file (written 0600 by root) must be readable by the kernel's user
        if os.path.exists(self.connection_file):
            os.chmod(self.connection_file, 0o644)
        if not self.sandbox:  # a private working folder, and the course's gdlib first on the path
            lib = os.path.join(self._sockdir, "lib")
            os.makedirs(lib, exist_ok=True)
            os.symlink(self.library, os.path.join(lib, "gdlib"))
            kw["cwd"] = tempfile.mkdtemp(prefix="work-", dir=self._sockdir)
            kw["env"] = dict(kw.get("env") or os.environ, PYTHONPATH=lib)
        # the guard's secret, on its standard input: never on disk, in argv or the environment
        self.token = secrets.token_hex(32).encode()
        read_end, write_end = os.pipe()
        os.write(write_end, self.token + b"\n")
        os.close(write_end)
        kw["stdin"] = read_end
        try:
            await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:
            os.close(read_end)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self._sockdir:
            shutil.rmtree(self._sockdir, ignore_errors=True)
            self._sockdir = None


def only_regular_files(folder: Path) -> str | None:
    """Why ``folder`` may not be read by the grader (a link, FIFO, device or socket in it), or None.

    Never follows a link: every entry is looked at with ``lstat``.
    """
    folder = Path(folder)
    try:
        top = os.lstat(folder)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(top.st_mode):
        return f"{folder.name} is not a folder"
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            mode = os.lstat(path).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                kind = ("a symbolic link" if stat.S_ISLNK(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                        else "a socket" if stat.S_ISSOCK(mode) else "a device file")
                return f"{os.path.relpath(path, folder)} is {kind}"
    return None
