"""The solver-alone busy benchmark (`benchmarks/busy_solve.py`): three different problems from one instance."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import busy_solve


def test_keep_drops_the_busy_units_and_drain_keeps_every_unit_with_the_same_deviation(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = busy_solve.main(["--families", "busy", "--sizes", "1k", "--repeat", "1", "--data-dir", str(tmp_path),
                            "--novicinity"])
    assert code == 0
    rows = {cells[2]: cells for line in capsys.readouterr().out.splitlines() if line.startswith("| busy-1k-s1 |")
            for cells in [[c.strip() for c in line.strip("|").split("|")]]}
    # instance, busy nodes, mode, movable units, status, D, B, M, seconds
    ignore, keep, drain = rows["ignore"], rows["keep"], rows["drain"]
    assert int(ignore[1]) > 0 and {ignore[4], keep[4], drain[4]} == {"OPTIMAL"}
    assert int(keep[3]) < int(ignore[3]) == int(drain[3])
    assert drain[5] == ignore[5] and int(drain[7]) >= int(ignore[7]) and int(keep[5]) >= int(ignore[5])
    assert rows["drain-novicinity"][4:8] == drain[4:8]  # the same status and (D, B, M) either way
