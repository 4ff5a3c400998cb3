"""`report`'s Markdown and HTML on plans the planner wrote (tests/review/data/make_fixtures.py)."""

from __future__ import annotations

import base64
import copy
import re
import struct
from typing import Any

from planner.review import charts
from planner.review.report import render_html, render_markdown
from tests.review.conftest import CPU, GPU, parse

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG header."""
    assert png[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def _images(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


def test_markdown_lists_pools_flavors_subnets_steps_excluded(plan_a_data: dict[str, Any]) -> None:
    md = render_markdown(parse(plan_a_data), title="review")
    assert md.startswith("## review\n")
    assert "**OPTIMAL** · deviation **5 → 0** (bound 0) · **4** node moves in **3** requests over **2** waves\n" in md
    assert "| train (pool-train-7f3a) | 8 | 7 | -1 | 7 |" in md
    assert "| legacy (pool-legacy-0a11) | 2 | 2 | 0 | - |" in md
    assert f"| dev | {GPU} | 0 | 2 | +2 | 2 |" in md
    assert f"| infer | {CPU} | 4 | 3 | -1 | - |" in md
    assert "| subnet-a9f04b36 | 18 | 14 | 0 | 14 |" in md
    assert f"| 1 | 1 | infer | dev | {CPU} | 1 | cross-cluster (cce-lite-a1 → pool-dev-91b0) |" in md
    assert f"| 3 | 2 | train | dev | {CPU} | 1 | cross-cluster (cce-lite-a1 → pool-dev-91b0) |" in md
    assert ("| pool pool-legacy-0a11 does not take part | 2 | `os-node-created-l1c` (legacy), "
            "`os-node-created-l2c` (legacy) |") in md
    assert "| pinned by the spec | 1 | `os-node-created-t6g` (train) |" in md
    assert "- #2: `os-node-created-i1g`, `os-node-created-i2g`" in md
    assert "Blocked by" not in md and "staging" not in md


def test_markdown_shows_a_flavor_target_band(plan_a_data: dict[str, Any]) -> None:
    plan_a_data["pools"]["pool-dev-91b0"]["flavor_targets"][GPU] = [2, 3]
    assert f"| dev | {GPU} | 0 | 2 | +2 | 2–3 |" in render_markdown(parse(plan_a_data))


def test_markdown_shows_blocked_by(plan_blocked_data: dict[str, Any]) -> None:
    md = render_markdown(parse(plan_blocked_data))
    assert "**FEASIBLE** · deviation **8 → 4** (bound 0)" in md
    assert ("> **Blocked by:** pool dev (pool-dev-91b0) would have to receive before it sends, but it cannot go below "
            "its floor 3 or above its max 3 and no pool can hold a unit in transit; no safe order moves "
            f"{GPU} nodes into pool dev (pool-dev-91b0) (pool dev (pool-dev-91b0) would have 5 nodes, above its "
            "max 3)\n") in md


def test_markdown_shows_staging(plan_b_data: dict[str, Any]) -> None:
    md = render_markdown(parse(plan_b_data))
    assert "over **4** waves · 1 staging move(s)\n" in md
    assert f"| 3 | 2 | infer | dev | {GPU} | 1 | staging hop; cross-cluster (cce-lite-a1 → pool-dev-91b0) |" in md
    assert f"| 2 | 2 | infer | train | {GPU} | 1 |  |" in md  # neither staging nor cross-cluster


def test_markdown_of_a_plan_without_moves(plan_minimal_data: dict[str, Any]) -> None:
    md = render_markdown(parse(plan_minimal_data))
    assert "**OPTIMAL** · deviation **0 → 0** (bound 0) · **0** node moves in **0** requests over **0** waves" in md
    assert "No moves: the current placement is kept." in md
    assert "Nodes per step" not in md
    assert "### Excluded nodes (3)" in md and "### Subnet headroom" in md


def test_markdown_of_a_plan_without_subnets_or_excluded_nodes(plan_minimal_data: dict[str, Any]) -> None:
    plan_minimal_data["subnets"] = {}
    plan_minimal_data["excluded"] = []
    md = render_markdown(parse(plan_minimal_data))
    assert "### Excluded nodes (0)\n\nNone." in md
    assert "Subnet headroom" not in md


def test_markdown_escapes_table_breakers(plan_a_data: dict[str, Any]) -> None:
    plan_a_data["excluded"][0]["reason"] = "locked | by ops"
    assert "| locked \\| by ops | 1 |" in render_markdown(parse(plan_a_data))


def test_html_is_self_contained_with_four_charts(plan_a_data: dict[str, Any]) -> None:
    html = render_html(parse(plan_a_data), title="review")
    assert html.startswith("<!doctype html>")
    assert "<script" not in html and "<link" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    images = _images(html)
    assert len(images) == 4  # pools, flavors, subnets, timeline
    for png in images:
        width, height = png_size(png)
        assert width >= 900 and 150 < height < 2000
    for text in ("pool-legacy-0a11", "subnet-0c4417d2", "Wave 2", "os-node-created-t1c", "pinned by the spec",
                 "Excluded nodes (4)", '<div class="v status-OPTIMAL">OPTIMAL</div>'):
        assert text in html
    assert "A better placement was blocked by" not in html


def test_html_shows_what_blocked_a_feasible_plan(plan_blocked_data: dict[str, Any]) -> None:
    html = render_html(parse(plan_blocked_data))
    assert '<div class="v status-FEASIBLE">FEASIBLE</div>' in html
    assert ("<strong>A better placement was blocked by:</strong><ul><li>pool dev (pool-dev-91b0) would have to receive "
            "before it sends") in html


def test_html_without_subnets_or_steps_says_so(plan_minimal_data: dict[str, Any]) -> None:
    plan_minimal_data["subnets"] = {}
    html = render_html(parse(plan_minimal_data))
    assert len(_images(html)) == 2  # pools and flavors only
    assert "carries no subnet figures" in html
    assert "No moves: the current placement is kept." in html


def test_html_escapes_names(plan_a_data: dict[str, Any]) -> None:
    plan_a_data["excluded"][0]["node"] = "<script>alert(1)</script>"
    html = render_html(parse(plan_a_data))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_charts_grow_with_rows_so_labels_do_not_overlap(plan_a_data: dict[str, Any]) -> None:
    small = parse(plan_a_data)
    big_data = copy.deepcopy(plan_a_data)
    template = big_data["pools"]["pool-legacy-0a11"]
    for i in range(20):
        big_data["pools"][f"pool-extra-{i:02d}"] = {**copy.deepcopy(template), "before": i, "after": i,
                                                    "display_name": f"extra-{i:02d}", "by_flavor": {CPU: [i, i]}}
    big = parse(big_data)
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
    h_many = png_size(charts.timeline_png(parse(many)))[1]
    h_few = png_size(charts.timeline_png(parse(few)))[1]
    assert h_many < h_few  # one bar per wave, not one row per step


def test_short_keeps_both_ends() -> None:
    name = "auto-pool-os-86c13962597848eeb29c5861153a391f"
    s = charts.short(name, 20)
    assert len(s) == 20 and s.startswith("auto-pool") and s.endswith("153a391f")
    assert charts.short("pool-a", 20) == "pool-a"


def test_html_shows_display_names_with_the_pool_id(plan_a_data: dict[str, Any]) -> None:
    html = render_html(parse(plan_a_data))
    assert 'train<div class="id">pool-train-7f3a</div>' in html  # pools table
    assert '<span title="pool-train-7f3a">train</span>' in html  # steps and flavors


def test_ids_are_shown_when_display_names_do_not_tell_pools_apart(plan_a_data: dict[str, Any]) -> None:
    plan_a_data["pools"]["pool-dev-91b0"]["display_name"] = "train"
    plan = parse(plan_a_data)
    md = render_markdown(plan)
    assert "| train (pool-dev-91b0) | 3 | 7 | +4 | - |" in md  # the pools table always names the id too
    assert f"| pool-dev-91b0 | {GPU} | 0 | 2 | +2 | 2 |" in md
    assert f"| 3 | 2 | pool-train-7f3a | pool-dev-91b0 | {CPU} | 1 |" in md
