"""The project lock (one per project, region and workspace on a host, shared by `apply` and `auto`) and the
lock files it and the other locks use (issue 17.1, 17.5)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from planner.errors import InputError, LockedError
from planner.locks import default_lock_dir, exclusive_lock, project_lock, project_lock_path


def test_the_lock_folder_comes_from_the_environment_then_xdg_then_home(tmp_path: Path) -> None:
    assert default_lock_dir({"POOLSHIFT_LOCK_DIR": "/srv/locks", "XDG_STATE_HOME": "/x"}) == Path("/srv/locks")
    assert default_lock_dir({"XDG_STATE_HOME": "/x/state"}) == Path("/x/state/poolshift/locks")
    assert default_lock_dir({"XDG_STATE_HOME": "relative/ignored"}) == Path.home() / ".local/state/poolshift/locks"
    assert default_lock_dir({}) == Path.home() / ".local" / "state" / "poolshift" / "locks"


def test_one_lock_per_project_region_and_workspace(tmp_path: Path) -> None:
    a = project_lock_path(tmp_path, "p1", "cn-north-4", "0")
    assert a == tmp_path / "project-p1_cn-north-4_0.lock"
    assert len({a, project_lock_path(tmp_path, "p2", "cn-north-4", "0"),
                project_lock_path(tmp_path, "p1", "cn-east-3", "0"),
                project_lock_path(tmp_path, "p1", "cn-north-4", "ws1")}) == 4
    assert project_lock_path(tmp_path, "p/../x", None, None).parent == tmp_path  # no way out of the folder


def test_a_second_holder_is_refused_at_once_naming_the_first(tmp_path: Path) -> None:
    with project_lock("p1", "r", "0", note="apply /plans/x.json", lock_dir=tmp_path / "locks"):
        started = time.monotonic()
        with pytest.raises(LockedError) as caught, \
                project_lock("p1", "r", "0", note="auto", lock_dir=tmp_path / "locks"):
            pass  # pragma: no cover
        assert time.monotonic() - started < 1.0
    message = str(caught.value)
    assert f"pid {os.getpid()} apply /plans/x.json" in message and "project p1, region r, workspace 0" in message
    assert "--lock-timeout" in message and caught.value.exit_code == 7
    with project_lock("p1", "r", "0", note="next", lock_dir=tmp_path / "locks"):  # released with the block
        pass
    with project_lock("p2", "r", "0", note="x", lock_dir=tmp_path / "locks"), \
            project_lock("p1", "r", "0", note="y", lock_dir=tmp_path / "locks"):  # other projects: independent
        pass


def test_lock_timeout_waits_for_the_holder_to_let_go(tmp_path: Path) -> None:
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with project_lock("p", "r", "0", note="first", lock_dir=tmp_path):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(10)
    threading.Timer(0.3, release.set).start()
    started = time.monotonic()
    with project_lock("p", "r", "0", note="second", lock_dir=tmp_path, timeout=10):
        waited = time.monotonic() - started
        assert 0.2 < waited < 5
        assert project_lock_path(tmp_path, "p", "r", "0").read_text().startswith(f"pid {os.getpid()} second")
    thread.join(10)


def test_lock_timeout_expires_with_the_holder_named(tmp_path: Path) -> None:
    with project_lock("p", "r", "0", note="long run", lock_dir=tmp_path):
        started = time.monotonic()
        with pytest.raises(LockedError, match=r"long run.*after waiting 0\.3 s"), \
                project_lock("p", "r", "0", note="x", lock_dir=tmp_path, timeout=0.3):
            pass  # pragma: no cover
        assert 0.25 < time.monotonic() - started < 3


def test_an_uncreatable_lock_folder_is_an_input_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(InputError, match="cannot create the lock folder"), \
            project_lock("p", "r", "0", note="x", lock_dir=blocker / "locks"):
        pass  # pragma: no cover


@pytest.mark.parametrize("dangling", [False, True], ids=["to a file", "dangling"])
def test_a_symlink_planted_at_a_lock_is_refused_never_followed(tmp_path: Path, dangling: bool) -> None:
    victim = tmp_path / "victim.txt"
    if not dangling:
        victim.write_text("precious\n")
    lock = tmp_path / "x.lock"
    lock.symlink_to(victim)
    with pytest.raises(InputError, match="is a symbolic link; refusing to follow it"), \
            exclusive_lock(lock, "me", lambda holder: holder):
        pass  # pragma: no cover
    assert lock.is_symlink()
    if dangling:
        assert not victim.exists()          # not created through the link
    else:
        assert victim.read_text() == "precious\n"  # not truncated
    folder = tmp_path / "locks"
    folder.mkdir()
    project_lock_path(folder, "p", "r", "0").symlink_to(victim)
    with pytest.raises(InputError, match="project lock file is a symbolic link"), \
            project_lock("p", "r", "0", note="x", lock_dir=folder):
        pass  # pragma: no cover
