"""Measuring a child process (wall time, its own peak memory) and the code it imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import measure as ms


def test_measure_reports_wall_time_and_the_childs_own_peak(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "b = bytearray(80 * 2**20); b[::4096] = b'x' * len(b[::4096])"]
    measured = ms.measure(cmd, stdout=tmp_path / "out", stderr=tmp_path / "err", timeout=60)
    assert measured.returncode == 0 and not measured.timed_out
    assert measured.peak_kib >= 80 * 1024
    assert 0 < measured.wall_seconds < 30
    small = ms.measure([sys.executable, "-c", "pass"], stdout=tmp_path / "o", stderr=tmp_path / "e", timeout=60)
    assert small.peak_kib < 60 * 1024, "peak must be the child's own, not the largest child so far"


def test_measure_kills_on_timeout(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "import time; time.sleep(30)"]
    measured = ms.measure(cmd, stdout=tmp_path / "out", stderr=tmp_path / "err", timeout=0.5)
    assert measured.timed_out and measured.returncode != 0
    assert measured.wall_seconds < 10


def test_measure_reports_exit_code(tmp_path: Path) -> None:
    measured = ms.measure([sys.executable, "-c", "raise SystemExit(3)"], stdout=tmp_path / "o",
                          stderr=tmp_path / "e", timeout=60)
    assert measured.returncode == 3


def test_the_launcher_fallback_reports_the_commands_own_peak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ms, "gnu_time", lambda: None)
    cmd = [sys.executable, "-c", "b = bytearray(80 * 2**20); b[::4096] = b'x' * len(b[::4096])"]
    measured = ms.measure(cmd, stdout=tmp_path / "out", stderr=tmp_path / "err", timeout=60)
    assert measured.peak_source == "benchmarks/_spawn.py wait4"
    assert measured.returncode == 0 and measured.peak_kib >= 80 * 1024
    small = ms.measure([sys.executable, "-c", "raise SystemExit(4)"], stdout=tmp_path / "o",
                       stderr=tmp_path / "e", timeout=60)
    assert small.returncode == 4 and small.peak_kib < 60 * 1024


def test_children_import_the_frozen_code_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest, fingerprint = ms.snapshot_code(tmp_path)
    assert dest.name == f"code-{fingerprint}" and (dest / ".complete").exists()
    assert ms.code_fingerprint(dest) == fingerprint
    assert ms.snapshot_code(tmp_path) == (dest, fingerprint)  # reused, not copied again
    monkeypatch.setattr(ms, "CODE_SNAPSHOT", dest)
    sources = ms.imported_from()
    assert set(sources) == {"planner", "solvers"}
    assert all(Path(f).is_relative_to(dest) for f in sources.values())


def test_reference_code_is_the_commits_tree(tmp_path: Path) -> None:
    ref = ms.reference_code("aa80520", tmp_path)
    assert ref.name == "ref-aa80520" and (ref / ".complete").exists()
    assert (ref / "solvers" / "flow.py").exists() and not (ref / "solvers" / "cuts.py").exists()
    sources = ms.imported_from(ref)
    assert all(Path(f).is_relative_to(ref) for f in sources.values())
    assert ms.reference_code("aa80520", tmp_path) == ref
    with pytest.raises(SystemExit, match="cannot read"):
        ms.reference_code("0000000000000000000000000000000000000000", tmp_path)


def test_mixed_code_is_the_commits_planner_with_this_trees_solvers(tmp_path: Path) -> None:
    mixed = ms.mixed_code("aa80520", tmp_path)
    assert (mixed / ".complete").exists()
    old_pipeline = subprocess.run(["git", "show", "aa80520:planner/pipeline.py"], cwd=ms.REPO_ROOT,
                                  capture_output=True, text=True, check=True).stdout
    assert (mixed / "planner" / "pipeline.py").read_text(encoding="utf-8") == old_pipeline
    ours = ms.REPO_ROOT / "solvers" / "flow.py"
    assert (mixed / "solvers" / "flow.py").read_text(encoding="utf-8") == ours.read_text(encoding="utf-8")
    assert ms.mixed_code("aa80520", tmp_path) == mixed  # reused while the tree is unchanged


def test_the_tree_is_sampled_only_once_the_command_forks(tmp_path: Path) -> None:
    """A command alone is measured by its own peak (sampling its smaps slowed it); one that forks holds what its
    processes hold together, which the sampled PSS sum of the tree reports."""
    alone = [sys.executable, "-c", "import time; b = bytearray(60 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
             "time.sleep(0.3)"]
    measured = ms.measure(alone, stdout=tmp_path / "a", stderr=tmp_path / "ae", timeout=60)
    assert measured.peak_source != "PSS sum of the process tree (sampled)"
    forks = [sys.executable, "-c", "import os, time\nb = bytearray(60 * 2**20)\npid = os.fork()\n"
             "c = bytearray(60 * 2**20); c[::4096] = b'y' * len(c[::4096]); b[::4096] = b'x' * len(b[::4096])\n"
             "time.sleep(0.5)\nif pid: os.waitpid(pid, 0)\nelse: os._exit(0)"]
    both = ms.measure(forks, stdout=tmp_path / "f", stderr=tmp_path / "fe", timeout=60)
    assert both.returncode == 0
    assert both.peak_source == "PSS sum of the process tree (sampled)" and both.peak_kib >= 200 * 1024
    # a timed run leaves the tree alone (the sampling takes CPU from the command's processes): its own peak only
    timed = ms.measure(forks, stdout=tmp_path / "t", stderr=tmp_path / "te", timeout=60, sample_tree=False)
    assert timed.returncode == 0
    assert timed.peak_source != "PSS sum of the process tree (sampled)" and timed.peak_kib < both.peak_kib
