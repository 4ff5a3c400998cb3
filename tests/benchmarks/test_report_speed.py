"""The report benchmark's checks and table (the timings themselves are measured by running it, never in tests)."""

from __future__ import annotations

import pytest

from benchmarks.report_speed import Timing, _check, main, table


def test_limits_are_checked_per_command_and_size() -> None:
    html = Timing("100k", "report (HTML)", "report-100k.html", seconds=[7.0, 9.0, 7.5], bytes=1_900_000)
    _check(html, "100k", "report (HTML)")
    assert html.passed and html.limits == ["median ≤ 8 s: PASS", "≤ 2 MB: PASS"]
    slow = Timing("10k", "report (HTML)", "report-10k.html", seconds=[2.5], bytes=2_100_000)
    _check(slow, "10k", "report (HTML)")
    assert not slow.passed and slow.limits == ["median ≤ 2 s: FAIL", "≤ 2 MB: FAIL"]
    md = Timing("100k", "show --format md", "show-100k.md", seconds=[0.4], chars=60_001)
    _check(md, "100k", "show --format md")
    assert md.limits == ["≤ 60,000 chars: FAIL"]
    row = table([html]).splitlines()[2]
    assert row == ("| 100k | `report (HTML)` | 7.50 | 7.00 | 9.00 | 3 | report-100k.html | 1,900,000 | 0 | "
                   "median ≤ 8 s: PASS; ≤ 2 MB: PASS |")


def test_unknown_sizes_are_refused() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--sizes", "5k"])
    assert exc.value.code == 2


def test_a_side_by_side_run_gives_the_median_of_the_per_run_ratios() -> None:
    from pathlib import Path

    from benchmarks.report_speed import versus_argv

    t = Timing("10k", "report (HTML)", "report-10k.html", seconds=[0.5, 0.6, 0.4], bytes=1, versus=[20.0, 30.0, 10.0])
    row = table([t]).splitlines()[2]
    assert row.endswith("| 20.00 | 0.025 |")  # ratios 0.025, 0.02, 0.04: median 0.025
    argv = versus_argv(["/bin/poolshift", "report", "p.json", "-o", "r.html", "--quiet"], Path("/tmp/before"))
    assert argv[3:] == ["report", "p.json", "-o", "r.html"] and "sys.path.insert(0, '/tmp/before')" in argv[2]
