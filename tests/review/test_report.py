"""`report`'s Markdown and HTML on plans the planner wrote (tests/review/data/make_fixtures.py), and on variants."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from planner.planfile import PlanDocument, read_plan
from planner.review import charts
from planner.review.report import render_html, render_markdown
from planner.review.report_data import PlanView, off_target
from planner.review.report_md import COMMENT_LIMIT
from planner.review.svg import short
from tests.review.conftest import CPU, GPU, parse, with_disrupts

EXAMPLE_PLAN = Path(__file__).resolve().parents[2] / "examples" / "plan.json"


def _svgs(html: str) -> list[str]:
    return re.findall(r"<svg .*?</svg>", html, flags=re.S)


def test_markdown_lists_pools_flavors_subnets_steps_excluded(plan_a_data: dict[str, Any]) -> None:
    md = render_markdown(parse(plan_a_data), title="review", top=None)
    assert md.startswith("## review\n")
    assert "**OPTIMAL** · deviation **5 → 0** (bound 0) · **4** node moves in **3** requests over **2** waves\n" in md
    assert f"plan digest `{plan_a_data['digest']}`" in md
    assert "| train (pool-train-7f3a) | 8 | 7 | -1 | 7 | 0 |" in md
    assert "| legacy (pool-legacy-0a11) | 2 | 2 | 0 | - | - |" in md
    assert f"| dev | {GPU} | 0 | 2 | +2 | 2 | 0 |" in md
    assert f"| infer | {CPU} | 4 | 3 | -1 | - | - |" in md
    assert "| subnet-a9f04b36 | 18 | 14 | 0 | 14 |" in md
    assert f"| 1 | 1 | infer | dev | {CPU} | 1 | crosses clusters cce-lite-a1 → pool-dev-91b0 |" in md
    assert f"| 3 | 2 | train | dev | {CPU} | 1 | crosses clusters cce-lite-a1 → pool-dev-91b0 |" in md
    assert "| pool pool-legacy-0a11 does not take part | 2 |" in md
    assert "| `os-node-created-t6g` | train | pinned by the spec |" in md
    assert "- #2: `os-node-created-i1g`, `os-node-created-i2g`" in md
    assert "### Targets not reached, and what limits them\n\nEvery target is reached." in md
    assert "Blocked by" not in md and "staging" not in md


def test_markdown_shows_a_flavor_target_band(plan_a_data: dict[str, Any]) -> None:
    plan_a_data["pools"]["pool-dev-91b0"]["flavor_targets"][GPU] = [2, 3]
    plan_a_data["pools"]["pool-dev-91b0"]["flavor_targets"][CPU] = [6, 8]
    md = render_markdown(parse(plan_a_data), top=None)
    assert f"| dev | {GPU} | 0 | 2 | +2 | 2–3 | 0 |" in md
    assert f"| dev | {CPU} | 3 | 5 | +2 | 6–8 | 1 |" in md  # one below the band


def test_markdown_shows_blocked_by_and_what_limits_the_targets(plan_blocked_data: dict[str, Any]) -> None:
    md = render_markdown(parse(plan_blocked_data))
    assert "**FEASIBLE** · deviation **8 → 4** (bound 0)" in md
    assert ("> **Blocked by:** pool dev (pool-dev-91b0) would have to receive before it sends, but it cannot go below "
            "its floor 3 or above its max 3 and no pool can hold a unit in transit; no safe order moves "
            f"{GPU} nodes into pool dev (pool-dev-91b0) (pool dev (pool-dev-91b0) would have 5 nodes, above its "
            "max 3)\n") in md
    residual = plan_blocked_data["pools"]["pool-dev-91b0"]["residual"]
    assert f"| dev (pool-dev-91b0) | {residual['deviation']} | {residual['limited_by'][0]}" in md
    assert "Deviation after: **4** = 0 at pool totals + 4 at per-flavor targets." in md


def test_off_target_adds_up_to_the_summary(plan_a_data: dict[str, Any], plan_b_data: dict[str, Any],
                                           plan_blocked_data: dict[str, Any]) -> None:
    """The report's "off target after" column and the residual rows add up to deviation after (issue 15: they
    added to 2 where the summary said 3, the per-flavor deviation was missing)."""
    docs = [parse(d) for d in (plan_a_data, plan_b_data, plan_blocked_data)] + [read_plan(EXAMPLE_PLAN)]
    for doc in docs:
        column = sum(off_target(row) or 0 for row in doc.pools.values())
        residual = sum(row.residual.deviation for row in doc.pools.values() if row.residual is not None)
        assert column == residual == doc.summary.deviation_after == sum(PlanView(doc).off_total())
    example = render_markdown(read_plan(EXAMPLE_PLAN), top=None)
    assert "| infer-b (pool-c71f5e93-infer-b) | 2 | 4 | +2 | 5 | 2 |" in example  # 1 short of 5, 1 short of 5 .d
    assert "Deviation after: **3** = 2 at pool totals + 1 at per-flavor targets." in example


def test_markdown_says_what_each_request_does(plan_b_data: dict[str, Any]) -> None:
    md = render_markdown(parse(plan_b_data), top=None)
    assert "over **4** waves · 1 staging move(s)\n" in md
    assert (f"| 3 | 2 | infer | dev | {GPU} | 1 | staging hop; crosses clusters cce-lite-a1 → pool-dev-91b0 |"
            in md)
    assert f"| 2 | 2 | infer | train | {GPU} | 1 | - |" in md
    assert "- 1 request(s) are staging hops (1 node moves)" in md


def test_relabels_super_nodes_and_disrupted_workloads_are_flagged(plan_a_data: dict[str, Any]) -> None:
    data = with_disrupts(plan_a_data)
    step = data["steps"][1]
    step["body"]["resourceSpec"] = {"flavor": GPU, "creatingStep": {"step": 2, "type": "hyperinstance"}}
    step["relabels"] = [{"node": "os-node-created-i1g", "from": "modelarts.vm.gpu.8xv100.old", "to": GPU}]
    doc = parse(data)
    md = render_markdown(doc, top=None)
    row = next(line for line in md.splitlines() if line.startswith("| 2 | 1 |"))
    assert ("ends training job llm-pretrain-7 on 2 node(s); ends inference service chat-infer on 1 node(s); "
            f"relabels 1 node(s) modelarts.vm.gpu.8xv100.old → {GPU}; super node (hyperinstance of 2); "
            "crosses clusters cce-lite-a1 → pool-dev-91b0") in row
    for line in ("- 1 request(s) end 2 running workload(s) on 2 node(s)", "- 1 request(s) relabel 1 node(s) to "
                 "another flavor", "- 1 request(s) move super nodes (2 nodes)", "- 3 request(s) cross clusters"):
        assert line in md
    html = render_html(doc)
    assert '<span class="tag ends">ends training job llm-pretrain-7 on 2 node(s)</span>' in html
    assert "super node (hyperinstance of 2)" in html


def test_markdown_of_a_plan_without_moves(plan_minimal_data: dict[str, Any]) -> None:
    md = render_markdown(parse(plan_minimal_data), top=None)
    assert "**OPTIMAL** · deviation **0 → 0** (bound 0) · **0** node moves in **0** requests over **0** waves" in md
    assert "No moves: the current placement is kept." in md
    assert "Nodes per step" not in md
    assert "### Excluded nodes (3)" in md and "### Subnet headroom" in md
    summary = render_markdown(parse(plan_minimal_data))
    assert "No pool changes." in summary and "### Subnets that change" not in summary


def test_markdown_of_a_plan_without_subnets_or_excluded_nodes(plan_minimal_data: dict[str, Any]) -> None:
    plan_minimal_data["subnets"] = {}
    plan_minimal_data["excluded"] = []
    md = render_markdown(parse(plan_minimal_data), top=None)
    assert "### Excluded nodes (0)\n\nNone." in md
    assert "Subnet headroom" not in md


def test_markdown_escapes_table_breakers(plan_a_data: dict[str, Any]) -> None:
    plan_a_data["excluded"][0]["reason"] = "locked | by ops"
    assert "| locked \\| by ops | 1 |" in render_markdown(parse(plan_a_data))


HOSTILE = {"script": "<script>alert(1)</script>", "img": "<img src=x onerror=alert(1)>",
           "iframe": "<iframe src=//evil.example>", "link": "![t](https://evil.example/t.png)"}


def _hostile_plan(data: dict[str, Any]) -> PlanDocument:
    data["pools"]["pool-train-7f3a"]["display_name"] = HOSTILE["img"]
    data["steps"][0]["body"]["migrateNodeNames"] = [HOSTILE["script"]]
    data["steps"][1]["body"]["resourceSpec"]["flavor"] = HOSTILE["iframe"]
    data["excluded"][0]["node"] = HOSTILE["link"]
    data["pools"]["pool-dev-91b0"]["display_name"] = HOSTILE["link"]
    data["excluded"][1]["reason"] = HOSTILE["script"]
    return parse(data)


def _raw_tags(text: str) -> set[str]:
    return set(re.findall(r"<\s*([a-zA-Z!/][a-zA-Z0-9]*)", text))


def test_markdown_shows_raw_html_in_names_and_title_as_text(plan_a_data: dict[str, Any]) -> None:
    """Issue 17.7: names and --title with HTML are escaped in every Markdown output."""
    doc = _hostile_plan(plan_a_data)
    for top in (None, 30):
        md = render_markdown(doc, title=HOSTILE["script"] + HOSTILE["iframe"], top=top)
        assert _raw_tags(md) <= {"details", "/details", "summary", "/summary", "sub", "/sub"}
        assert "&lt;script>alert(1)&lt;/script>" in md and "&lt;img src=x onerror=alert(1)>" in md
        assert "!\\[t\\](https://evil.example/t.png)" in md  # no image from a pool name ...
        assert "`![t](https://evil.example/t.png)`" in md  # ... and a node name is code
    from planner.review.show import render_plan

    for top in (None, 30):
        shown = render_plan(doc, "md", top=top)
        assert _raw_tags(shown) == set() and "&lt;iframe src=//evil.example>" in shown


def test_html_escapes_names_everywhere(plan_a_data: dict[str, Any]) -> None:
    html = render_html(_hostile_plan(plan_a_data), title=HOSTILE["iframe"])
    assert _raw_tags(html) & {"script", "img", "iframe"} == set()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_html_is_self_contained_with_four_charts(plan_a_data: dict[str, Any]) -> None:
    html = render_html(parse(plan_a_data), title="review")
    assert html.startswith("<!doctype html>")
    assert "<script" not in html and "<link" not in html and "<img" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    svgs = _svgs(html)
    assert len(svgs) == 4  # pools, flavors, subnets, timeline
    assert all('xmlns="http://www.w3.org/2000/svg"' in svg for svg in svgs)
    for text in ("pool-legacy-0a11", "subnet-0c4417d2", "Wave 2", "os-node-created-t1c", "pinned by the spec",
                 "Excluded nodes (4)", '<div class="v status-OPTIMAL">OPTIMAL</div>', plan_a_data["digest"],
                 "Targets not reached, and what limits them"):
        assert text in html
    assert "A better placement was blocked by" not in html


def test_html_shows_what_blocked_a_feasible_plan(plan_blocked_data: dict[str, Any]) -> None:
    html = render_html(parse(plan_blocked_data))
    assert '<div class="v status-FEASIBLE">FEASIBLE</div>' in html
    assert ("<strong>A better placement was blocked by:</strong><ul><li>pool dev (pool-dev-91b0) would have to receive "
            "before it sends") in html
    assert "Deviation after: <strong>4</strong> = 0 at pool totals + 4 at per-flavor targets." in html


def test_html_without_subnets_or_steps_says_so(plan_minimal_data: dict[str, Any]) -> None:
    plan_minimal_data["subnets"] = {}
    html = render_html(parse(plan_minimal_data))
    assert _svgs(html) == []  # nothing changes, so nothing is drawn
    assert "No pool changes." in html and "carries no subnet figures" in html
    assert "No moves: the current placement is kept." in html


def _many_pools(data: dict[str, Any], count: int) -> dict[str, Any]:
    """Plan data with `count` extra pools, pool i going from i to i + 1 nodes (display names extra-i)."""
    big = copy.deepcopy(data)
    template = big["pools"]["pool-legacy-0a11"]
    for i in range(count):
        big["pools"][f"pool-extra-{i:03d}"] = {**copy.deepcopy(template), "before": i, "after": i + 1,
                                               "display_name": f"extra-{i:03d}", "by_flavor": {CPU: [i, i + 1]}}
    return big


def test_charts_draw_only_the_largest_changes_and_count_the_rest(plan_a_data: dict[str, Any]) -> None:
    view = PlanView(parse(_many_pools(plan_a_data, 100)))
    chart = charts.pool_totals(view)
    assert chart is not None and chart.svg.count('text-anchor="end"><title>') == charts.CHART_TOP  # row labels
    assert chart.rest == "Not drawn: 78 more pools change (by 78 nodes in all); 1 pools do not change."
    mix = charts.flavor_mix(view)
    assert mix is not None and mix.rest == "Not drawn: 78 more pools whose flavor mix changes."
    small = charts.pool_totals(PlanView(parse(plan_a_data)))
    assert small is not None and small.svg.count('text-anchor="end"><title>') == 3 and small.rest is not None


def test_chart_height_grows_with_rows_but_stops_at_the_top_rows(plan_a_data: dict[str, Any]) -> None:
    def height(svg: str) -> int:
        match = re.search(r'height="(\d+)"', svg)
        assert match is not None
        return int(match.group(1))

    heights = []
    for extra in (0, 10, 1000):
        chart = charts.pool_totals(PlanView(parse(_many_pools(plan_a_data, extra))))
        assert chart is not None
        heights.append(height(chart.svg))
    assert heights[0] < heights[1] < heights[2] and heights[2] < 1500


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
    per_wave = charts.steps_timeline(PlanView(parse(many)))
    per_step = charts.steps_timeline(PlanView(parse(few)))
    assert per_wave is not None and per_step is not None
    assert per_step.svg.count("<title>request ") == charts.GANTT_MAX_STEPS  # one bar per request
    assert per_wave.svg.count("node(s) moved</title>") == 6  # one column per wave
    assert "<title>wave 6: 10 node(s) moved</title>" in per_wave.svg


def test_short_keeps_both_ends() -> None:
    name = "auto-pool-os-86c13962597848eeb29c5861153a391f"
    s = short(name, 20)
    assert len(s) == 20 and s.startswith("auto-pool") and s.endswith("153a391f")
    assert short("pool-a", 20) == "pool-a"


def test_html_shows_display_names_with_the_pool_id(plan_a_data: dict[str, Any]) -> None:
    html = render_html(parse(plan_a_data))
    assert 'train<div class="id">pool-train-7f3a</div>' in html  # pools table
    assert '<span title="pool-train-7f3a">train</span>' in html  # steps and flavors


def test_ids_are_shown_when_display_names_do_not_tell_pools_apart(plan_a_data: dict[str, Any]) -> None:
    plan_a_data["pools"]["pool-dev-91b0"]["display_name"] = "train"
    plan = parse(plan_a_data)
    md = render_markdown(plan, top=None)
    assert "| train (pool-dev-91b0) | 3 | 7 | +4 | - | 0 |" in md  # the pools table always names the id too
    assert f"| pool-dev-91b0 | {GPU} | 0 | 2 | +2 | 2 | 0 |" in md
    assert f"| 3 | 2 | pool-train-7f3a | pool-dev-91b0 | {CPU} | 1 |" in md


def _huge_plan(data: dict[str, Any], pools: int, steps: int) -> PlanDocument:
    """A plan with many changing pools and many 20-node requests with long node names (as at 100k nodes)."""
    big = _many_pools(data, pools)
    template = big["steps"][0]
    big["steps"] = []
    for i in range(1, steps + 1):
        step = copy.deepcopy(template)
        step.update(id=i, wave=(i - 1) // 10 + 1)
        step["body"]["migrateNodeNames"] = [f"os-node-created-{i:05d}-{j:02d}-{'x' * 20}" for j in range(20)]
        big["steps"].append(step)
    big["excluded"] = [{"node": f"os-node-locked-{i:05d}-{'y' * 20}", "pool": "pool-train-7f3a",
                        "reason": f"locked ({i % 7})"} for i in range(3000)]
    return parse(big)


def test_markdown_summary_fits_a_pull_request_comment(plan_a_data: dict[str, Any]) -> None:
    doc = _huge_plan(plan_a_data, 1000, 700)
    full = render_markdown(doc, top=None)
    summary = render_markdown(doc)
    assert len(full) > 10 * COMMENT_LIMIT
    assert len(summary) <= COMMENT_LIMIT
    assert "### Pools that change (1003, largest change first)" in summary
    assert "| dev (pool-dev-91b0) | 3 | 7 | +4 |" in summary.split("### Pools that change")[1].splitlines()[4]
    assert "_… and 670 more requests (--full lists every one)_" in summary
    assert "_… and 2,970 more excluded nodes (--full lists every one)_" in summary
    shown = [line for line in summary.splitlines() if line.startswith("- #")]
    assert len(shown) == 30 and all(line.count("`os-node-created-") == 20 for line in shown)  # every node
    huge_names = _huge_plan(plan_a_data, 1000, 700).model_copy()
    assert len(render_markdown(huge_names, top=500)) <= COMMENT_LIMIT  # shortened further until it fits


def test_report_html_stays_small_at_scale(plan_a_data: dict[str, Any]) -> None:
    html = render_html(_huge_plan(plan_a_data, 1000, 700))
    assert len(html.encode()) < 2_000_000
    svgs = _svgs(html)
    assert len(svgs) == 4 and max(len(s) for s in svgs) < 60_000
    assert json.dumps(HOSTILE) not in html


def test_long_tables_are_folded_short_ones_open(plan_a_data: dict[str, Any]) -> None:
    small = render_html(parse(plan_a_data))
    assert "<details open><summary>Every pool (4; 3 change)</summary><table>" in small
    big = render_html(parse(_many_pools(plan_a_data, 100)))
    assert "<details><summary>Every pool (104; 103 change)</summary><table>" in big
    assert big.count("pool-extra-0") >= 200  # folded, not left out: every pool is in the table (and the chart tips)
