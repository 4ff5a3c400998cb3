from __future__ import annotations

import base64
import copy
import re
import struct
from typing import Any

from planner.review import charts
from planner.review.plandoc import PlanDoc, parse_plan
from planner.review.report import render_html, render_markdown

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _plan(data: dict[str, Any]) -> PlanDoc:
    return parse_plan(data, source="plan.json")


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG header."""
    assert png[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def _images(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


def test_markdown_lists_pools_flavors_subnets_steps_excluded(plan_a_data: dict[str, Any]) -> None:
    md = render_markdown(_plan(plan_a_data), title="review")
    assert md.startswith("## review\n")
    assert "**OPTIMAL** · deviation **9 → 0** (bound 0)" in md
    assert "| train-v100 (pool-train-7f3a) | 10 | 14 | +4 | 14 |" in md
    assert "| pool-infer-2c9e | modelarts.vm.gpu.8xv100 | 7 | 3 | -4 | 3–4 |" in md
    assert "| subnet-a9f04b36 | 6 | 5 | 2 | 3 |" in md
    assert "| 2 | 1 | pool-infer-2c9e | pool-dev-91b0 | modelarts.vm.cpu.8u | 1 | cross-cluster" in md
    assert "| pool not running (phase Abnormal) | 2 |" in md
    assert "- #3: `os-node-created-g3c9e`, `os-node-created-g4d0f`" in md


def test_markdown_shows_blocked_by_and_staging(plan_b_data: dict[str, Any]) -> None:
    md = render_markdown(_plan(plan_b_data))
    assert "> **Blocked by:** subnet subnet-a9f04b36 reserve (pool-dev-91b0)" in md
    assert "1 staging move(s)" in md
    assert "staging hop" in md


def test_markdown_of_a_plan_without_moves_or_optional_fields() -> None:
    from tests.review.conftest import read_plan_data

    md = render_markdown(_plan(read_plan_data("plan_minimal.json")))
    assert "No moves: the current placement is kept." in md
    assert "### Excluded nodes (0)" in md
    assert "Subnet headroom" not in md


def test_markdown_escapes_table_breakers(plan_a_data: dict[str, Any]) -> None:
    plan_a_data["excluded"][0]["reason"] = "locked | by ops"
    assert "| locked \\| by ops | 1 |" in render_markdown(_plan(plan_a_data))


def test_html_is_self_contained_with_four_charts(plan_a_data: dict[str, Any]) -> None:
    html = render_html(_plan(plan_a_data), title="review")
    assert html.startswith("<!doctype html>")
    assert "<script" not in html and "<link" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    images = _images(html)
    assert len(images) == 4  # pools, flavors, subnets, timeline
    for png in images:
        width, height = png_size(png)
        assert width >= 900 and 150 < height < 2000
    for text in ("pool-train-7f3a", "subnet-5d2c8e71", "Wave 2", "os-node-created-g4d0f", "billing frozen",
                 "Excluded nodes (4)"):
        assert text in html


def test_html_without_subnets_or_steps_says_so() -> None:
    from tests.review.conftest import read_plan_data

    html = render_html(_plan(read_plan_data("plan_minimal.json")))
    assert len(_images(html)) == 2  # pools and flavors only
    assert "carries no subnet figures" in html
    assert "No moves: the current placement is kept." in html


def test_html_escapes_names(plan_a_data: dict[str, Any]) -> None:
    plan_a_data["excluded"][0]["node"] = "<script>alert(1)</script>"
    html = render_html(_plan(plan_a_data))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_charts_grow_with_rows_so_labels_do_not_overlap(plan_a_data: dict[str, Any]) -> None:
    small = _plan(plan_a_data)
    big_data = copy.deepcopy(plan_a_data)
    for i in range(20):
        big_data["pools"][f"pool-extra-{i:02d}"] = {"before": i, "after": i, "target": None,
                                                    "by_flavor": {"modelarts.vm.cpu.8u": [i, i]}}
    big = _plan(big_data)
    for chart in (charts.pool_totals_png, charts.flavor_mix_png):
        h_small, h_big = png_size(chart(small))[1], png_size(chart(big))[1]
        assert h_big > h_small * 3


def test_timeline_aggregates_waves_when_there_are_many_steps(plan_a_data: dict[str, Any]) -> None:
    template = plan_a_data["steps"][0]
    steps = []
    for i in range(1, 61):
        step = copy.deepcopy(template)
        step.update(id=i, wave=(i - 1) // 10 + 1)
        step["body"]["migrateNodeNames"] = [f"os-node-created-x{i:03d}"]
        steps.append(step)
    many = copy.deepcopy(plan_a_data)
    many["steps"] = steps
    few = copy.deepcopy(plan_a_data)
    few["steps"] = steps[: charts.GANTT_MAX_STEPS]
    h_many = png_size(charts.timeline_png(_plan(many)))[1]
    h_few = png_size(charts.timeline_png(_plan(few)))[1]
    assert h_many < h_few  # one bar per wave, not one row per step


def test_short_keeps_both_ends() -> None:
    name = "auto-pool-os-86c13962597848eeb29c5861153a391f"
    s = charts.short(name, 20)
    assert len(s) == 20 and s.startswith("auto-pool") and s.endswith("153a391f")
    assert charts.short("pool-a", 20) == "pool-a"


def test_html_shows_display_names_with_the_pool_id(plan_a_data: dict[str, Any]) -> None:
    html = render_html(_plan(plan_a_data))
    assert 'train-v100<div class="id">pool-train-7f3a</div>' in html  # pools table
    assert '<span title="pool-train-7f3a">train-v100</span>' in html  # steps and flavors
