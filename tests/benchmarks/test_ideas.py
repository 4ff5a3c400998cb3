"""The solver-alone variants benchmark (`benchmarks/ideas.py`): the instances its options pick."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import ideas


def test_cross_cluster_and_busy_policies_pick_one_instance_each(tmp_path: Path) -> None:
    """Both cross-cluster settings and three specs of a busy family: six instances, each solved by the variant;
    a family without busy nodes takes its own spec only."""
    out = tmp_path / "ideas.json"
    code = ideas.main(["--families", "busy,compat", "--sizes", "1k", "--seeds", "1", "--cross-cluster", "both",
                       "--busy-nodes", "none,keep,ignore", "--variants", "auto", "--repeat", "1",
                       "--data-dir", str(tmp_path), "--json", str(out)])
    assert code == 0
    table = {row["instance"]: row["results"]["auto"] for row in json.loads(out.read_text(encoding="utf-8"))}
    busy = {f"busy-1k-s1{cross}{spec}" for cross in ("", "-nocross") for spec in ("", "-keep", "-ignore")}
    assert set(table) == busy | {"compat-1k-s1", "compat-1k-s1-nocross"}
    assert {result["status"] for result in table.values()} == {"OPTIMAL"}
    # the family's own spec has no `workloads:` section, so `keep` (PRODUCT §9's default); `ignore` may move the busy
    # nodes too, and on this instance reaches the same D with fewer moves: each spec was the one asked for
    assert table["busy-1k-s1-ignore"]["dm"] < table["busy-1k-s1-keep"]["dm"] == table["busy-1k-s1"]["dm"]


def test_an_unknown_busy_policy_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        ideas.main(["--busy-nodes", "evict", "--variants", "auto"])
    assert stopped.value.code == 2 and "evict" in capsys.readouterr().err
