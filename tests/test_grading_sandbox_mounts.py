"""The sandbox's mounts: what is bound must stay visible whatever the checkout's path, and only that."""

from course_grading import sandbox


def _command(monkeypatch, readonly, library="/tmp/clone/gdlib"):
    monkeypatch.setattr(sandbox, "readonly_paths", lambda: list(readonly))
    return sandbox.sandbox_command(["python"], library=library, sockdir="/tmp/cg-run-x/k-1",
                                   uid=62000, memory=2**30, processes=64, file_size=2**20,
                                   disk=2**25)


def test_a_checkout_under_tmp_is_bound_after_the_private_tmp(monkeypatch):
    # A CI clone may live under /tmp: its venv must be mounted after the empty tmpfs on /tmp,
    # or the tmpfs hides it and every kernel dies at start-up.
    cmd = _command(monkeypatch, ["/tmp/clone/.venv", "/usr/local/python"])
    tmpfs = cmd.index("--tmpfs")
    assert cmd[tmpfs + 1] == "/tmp" and cmd[tmpfs - 2:tmpfs] == ["--size", str(2**25)]
    binds = [i for i, arg in enumerate(cmd) if arg in ("--ro-bind", "--bind") and cmd[i + 1].startswith("/tmp")]
    assert binds and all(i > tmpfs for i in binds)
    # The folders leading to them are created traversable inside the private /tmp.
    assert ["--perms", "0755", "--dir", "/tmp/clone"] == cmd[cmd.index("/tmp/clone") - 3:cmd.index("/tmp/clone") + 1]


def test_only_the_checkout_parts_are_bound_not_the_whole_clone(monkeypatch):
    cmd = _command(monkeypatch, ["/tmp/clone/.venv"])
    bound = {cmd[i + 1] for i, arg in enumerate(cmd) if arg in ("--ro-bind", "--bind")}
    assert "/tmp/clone" not in bound and "/tmp/clone/solutions" not in bound


def test_the_courses_gdlib_comes_first_and_the_kernel_writes_only_its_tmpfs(monkeypatch):
    cmd = _command(monkeypatch, ["/tmp/clone/.venv"], library="/srv/course-copy/gdlib")
    i = cmd.index("/srv/course-copy/gdlib")
    assert cmd[i - 1] == "--ro-bind" and cmd[i + 1] == f"{sandbox.INSIDE_LIBRARY}/gdlib"
    assert cmd[cmd.index("PYTHONPATH") + 1] == sandbox.INSIDE_LIBRARY
    writable = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--bind"]
    assert writable == ["/tmp/cg-run-x/k-1"]          # the socket folder, and nothing else
    assert cmd[cmd.index("--chdir") + 1] == sandbox.WORKDIR and sandbox.WORKDIR.startswith("/tmp/")
