"""The benchmark runner's pieces: sizes, measurement of a child, instance reuse, checks and tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest
import yaml

from benchmarks import generate as gen
from benchmarks import run
from benchmarks.baseline import result_fields


def test_parse_size_presets_and_custom() -> None:
    assert run.parse_size("10k") == run.Size("10k", 10_000, 200, 25)
    assert run.parse_size("100k") == run.Size("100k", 100_000, 1_000, 25)
    assert run.parse_size("5000:100:10") == run.Size("5k", 5_000, 100, 10)
    assert run.parse_size("1500:30").clusters == 6
    with pytest.raises(argparse.ArgumentTypeError):
        run.parse_size("huge")


def test_measure_reports_wall_time_and_the_childs_own_peak(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "b = bytearray(80 * 2**20); b[::4096] = b'x' * len(b[::4096])"]
    measured = run.measure(cmd, stdout=tmp_path / "out", stderr=tmp_path / "err", timeout=60)
    assert measured.returncode == 0 and not measured.timed_out
    assert measured.peak_kib >= 80 * 1024
    assert 0 < measured.wall_seconds < 30
    small = run.measure([sys.executable, "-c", "pass"], stdout=tmp_path / "o", stderr=tmp_path / "e", timeout=60)
    assert small.peak_kib < 60 * 1024, "peak must be the child's own, not the largest child so far"


def test_measure_kills_on_timeout(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "import time; time.sleep(30)"]
    measured = run.measure(cmd, stdout=tmp_path / "out", stderr=tmp_path / "err", timeout=0.5)
    assert measured.timed_out and measured.returncode != 0
    assert measured.wall_seconds < 10


def test_measure_reports_exit_code(tmp_path: Path) -> None:
    measured = run.measure([sys.executable, "-c", "raise SystemExit(3)"], stdout=tmp_path / "o",
                           stderr=tmp_path / "e", timeout=60)
    assert measured.returncode == 3


def test_ensure_instance_generates_then_reuses(tmp_path: Path) -> None:
    size = run.Size("300", 300, 20, 5)
    messages: list[str] = []
    inventory, spec, info = run.ensure_instance(size, 4, True, tmp_path, False, messages.append)
    assert info["generated"] and inventory.exists() and spec.exists()
    stamp = inventory.stat().st_mtime_ns
    _, _, again = run.ensure_instance(size, 4, True, tmp_path, False, messages.append)
    assert not again["generated"] and inventory.stat().st_mtime_ns == stamp
    # the other cross-cluster variant is derived from the existing spec, equal to what the generator gives
    _, spec_off, derived = run.ensure_instance(size, 4, False, tmp_path, False, messages.append)
    assert not derived["generated"] and spec_off.name == "spec-300-nocross.yaml"
    assert yaml.safe_load(spec_off.read_text()) == gen.generate(300, 20, clusters=5, seed=4, cross_cluster=False)[1]
    # another seed regenerates
    _, _, other = run.ensure_instance(size, 5, True, tmp_path, False, messages.append)
    assert other["generated"]


def _row(name: str, method: str, status: str, d: int | None, m: int | None, wall: float, peak: float = 100.0,
         nodes: int = 10_000, pools: int = 200, cross: bool = True) -> run.Row:
    return run.Row(name, nodes, pools, cross, method, status, bound=d, deviation=d, moves=m,
                   wall_seconds=wall, peak_mib=peak)


def test_checks_of_the_issue() -> None:
    rows = [
        _row("10k", "poolshift", "OPTIMAL", 10, 50, 0.9),
        _row("10k", "greedy", "FEASIBLE", 12, 40, 0.5),
        _row("10k", "poolshift", "OPTIMAL", 14, 50, 1.2, cross=False),
        _row("10k", "greedy", "FEASIBLE", 14, 49, 0.5, cross=False),
        _row("2k", "poolshift", "OPTIMAL", 3, 7, 0.4, nodes=2_000, pools=60),
        _row("2k", "pernode", "OPTIMAL", 3, 7, 50.0, nodes=2_000, pools=60),
        _row("2k", "poolshift", "OPTIMAL", 3, 7, 0.6, nodes=2_000, pools=60, cross=False),
        _row("2k", "pernode", "OPTIMAL", 3, 8, 90.0, nodes=2_000, pools=60, cross=False),
        _row("100k", "poolshift", "OPTIMAL", 3, 7, 9.0, peak=1_500.0, nodes=100_000, pools=1_000),
    ]
    rows[4].extra["summary"] = {"solve_seconds": 0.02}
    rows[5].extra["solver_seconds"] = 49.0
    rows[6].extra["summary"] = {"solve_seconds": 0.02}
    rows[7].extra["solver_seconds"] = 89.0
    verdicts = {(c.name, c.instance): c.verdict for c in run.evaluate(rows)}
    assert verdicts == {
        ("10k/200: OPTIMAL in <= 1.0 s", "10k cross=on"): "PASS",
        ("(D, M) never worse than greedy", "10k cross=on"): "PASS",
        ("10k/200: OPTIMAL in <= 1.0 s", "10k cross=off"): "FAIL",
        ("(D, M) never worse than greedy", "10k cross=off"): "FAIL",
        (">= 100x faster than per-node end to end, same D and M", "2k cross=on"): "PASS",
        (">= 100x faster than per-node solver", "2k cross=on"): "PASS",
        (">= 100x faster than per-node end to end, same D and M", "2k cross=off"): "FAIL",  # M differs
        (">= 100x faster than per-node solver", "2k cross=off"): "FAIL",
        ("100k/1000: OPTIMAL in <= 10 s, peak <= 1 GiB", "100k cross=on"): "FAIL",
    }


def test_check_is_not_applicable_without_numbers() -> None:
    rows = [_row("2k", "poolshift", "EXIT 2", None, None, 0.1, nodes=2_000, pools=60),
            _row("2k", "pernode", "N/A", None, None, 0.5, nodes=2_000, pools=60),
            _row("2k", "greedy", "N/A", None, None, 0.5, nodes=2_000, pools=60)]
    assert {c.verdict for c in run.evaluate(rows)} == {"N/A"}


def test_staging_hops_do_not_count_against_the_placement() -> None:
    ps = _row("10k", "poolshift", "OPTIMAL", 10, 52, 0.5)
    ps.extra["summary"] = {"staging_moves": 2}
    checks = run.evaluate([ps, _row("10k", "greedy", "FEASIBLE", 10, 50, 0.5)])
    assert [c.verdict for c in checks if c.name.startswith("(D, M)")] == ["PASS"]


def test_table_and_markdown() -> None:
    rows = [run.Row("startup", 0, 0, None, "poolshift --help", "OK", wall_seconds=0.06, peak_mib=21.5),
            _row("10k", "poolshift", "OPTIMAL", 10, 50, 0.9)]
    table = run.format_table(rows).splitlines()
    assert table[0].split() == ["name", "nodes", "pools", "cross-cluster", "method", "status", "bound",
                                "deviation", "moves", "wall", "s", "peak", "MiB"]
    assert table[3].split() == ["10k", "10000", "200", "on", "poolshift", "OPTIMAL", "10", "10", "50", "0.900",
                                "100.0"]
    machine = {"date": "d", "cpu_model": "cpu", "cpus": 2, "memory_gib": 8, "os": "Linux", "python": "3.11",
               "ortools": "9", "poolshift": "0.1", "git_commit": "abc"}
    md = run.format_markdown(rows, run.evaluate(rows), machine, "python -m benchmarks.run")
    assert "| 10k | 10000 | 200 | on | poolshift | OPTIMAL | 10 | 10 | 50 | 0.900 | 100.0 |" in md


def test_result_fields_of_a_flow_result_like_object() -> None:
    class Status:
        value = "OPTIMAL"

    class Result:
        status = Status()
        deviation, moves, bound, seconds, backend = 4, 9, 4, 0.25, "cpsat"

    fields = result_fields(Result())
    assert (fields["status"], fields["deviation"], fields["moves"], fields["bound"]) == ("OPTIMAL", 4, 9, 4)
    assert fields["solver_seconds"] == 0.25


def test_the_launcher_fallback_reports_the_commands_own_peak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "gnu_time", lambda: None)
    cmd = [sys.executable, "-c", "b = bytearray(80 * 2**20); b[::4096] = b'x' * len(b[::4096])"]
    measured = run.measure(cmd, stdout=tmp_path / "out", stderr=tmp_path / "err", timeout=60)
    assert measured.peak_source == "benchmarks/_spawn.py wait4"
    assert measured.returncode == 0 and measured.peak_kib >= 80 * 1024
    small = run.measure([sys.executable, "-c", "raise SystemExit(4)"], stdout=tmp_path / "o",
                        stderr=tmp_path / "e", timeout=60)
    assert small.returncode == 4 and small.peak_kib < 60 * 1024


def test_children_import_the_frozen_code_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest, fingerprint = run.snapshot_code(tmp_path)
    assert dest.name == f"code-{fingerprint}" and (dest / ".complete").exists()
    assert run.code_fingerprint(dest) == fingerprint
    assert run.snapshot_code(tmp_path) == (dest, fingerprint)  # reused, not copied again
    monkeypatch.setattr(run, "CODE_SNAPSHOT", dest)
    sources = run.imported_from()
    assert set(sources) == {"planner", "solvers"}
    assert all(Path(f).is_relative_to(dest) for f in sources.values())
