"""benchmarks.exit_tail runs `plan` through both entry points and reports their wall and tail times."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import exit_tail

ROOT = Path(__file__).resolve().parents[2]


def test_exit_tail_measures_both_entry_points(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "plan.json"
    assert exit_tail.main(["--inventory", str(ROOT / "examples" / "inventory.json"), "--spec",
                           str(ROOT / "examples" / "spec.yaml"), "--repeat", "1", "--out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == set(exit_tail.VARIANTS)
    for figures in result.values():
        assert 0 <= figures["tail_s"] <= figures["wall_s"]
    assert not out.exists()
