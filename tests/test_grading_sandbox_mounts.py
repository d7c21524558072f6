"""The sandbox's mount order: what is bound must stay visible whatever the checkout's path."""

from course_grading import sandbox


def _command(monkeypatch, readonly):
    monkeypatch.setattr(sandbox, "readonly_paths", lambda: list(readonly))
    return sandbox.sandbox_command(["python"], workdir="/tmp/course/grading/autograded/alice/a",
                                   sockdir="/tmp/cg-kernel-x", uid=61000, memory=2**30,
                                   processes=64, file_size=2**20)


def test_a_checkout_under_tmp_is_bound_after_the_private_tmp(monkeypatch):
    # A CI clone may live under /tmp: its venv and gdlib must be mounted after the empty
    # tmpfs on /tmp, or the tmpfs hides them and every kernel dies at start-up.
    cmd = _command(monkeypatch, ["/tmp/clone/.venv", "/tmp/clone/gdlib", "/usr/local/python"])
    tmpfs = cmd.index("--tmpfs")
    assert cmd[tmpfs + 1] == "/tmp"
    binds = [i for i, arg in enumerate(cmd) if arg in ("--ro-bind", "--bind") and cmd[i + 1].startswith("/tmp")]
    assert binds and all(i > tmpfs for i in binds)
    # The folders leading to them are created traversable inside the private /tmp.
    assert ["--perms", "0755", "--dir", "/tmp/clone"] == cmd[cmd.index("/tmp/clone") - 3:cmd.index("/tmp/clone") + 1]


def test_only_the_checkout_parts_are_bound_not_the_whole_clone(monkeypatch):
    cmd = _command(monkeypatch, ["/tmp/clone/.venv", "/tmp/clone/gdlib"])
    bound = {cmd[i + 1] for i, arg in enumerate(cmd) if arg in ("--ro-bind", "--bind")}
    assert "/tmp/clone" not in bound and "/tmp/clone/solutions" not in bound
