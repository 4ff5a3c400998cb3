"""Review commands: `diff` (two plans), `report` (HTML or Markdown), `whatif` (scenarios side by side).

Parse, call `planner.review`, print, exit. matplotlib, pandas and the planner pipeline are imported
inside the commands (through `planner.review`), so `poolshift --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from planner.cli._common import bad_argument, echo, echo_json, main
from planner.cli.options import SolverArgs, format_option, output_option, solver_options


@main.command("diff")
@click.argument("plan_a", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("plan_b", type=click.Path(path_type=Path, dir_okay=False))
@format_option("table", "md", "json", default="table")
@output_option
def diff_cmd(plan_a: Path, plan_b: Path, fmt: str, output: str) -> None:
    """What changed from PLAN_A to PLAN_B: summary, pools, nodes, requests, order, excluded nodes.

    Timings and timestamps are ignored. Exit 0 whether or not the plans differ.
    """
    from planner.planfile import read_plan
    from planner.review.diff import diff_plans, render_diff

    result = diff_plans(read_plan(plan_a), read_plan(plan_b))
    if output == "json" or fmt == "json":
        echo_json(result.to_dict())
        return
    echo(render_diff(result, name_a=str(plan_a), name_b=str(plan_b), markdown=fmt == "md").rstrip("\n"))


@main.command("report")
@click.argument("plan", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--out", "out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="File to write (default: stdout).")
@format_option("html", "md", default=None)
@click.option("--title", default=None, help="Page title (default: 'poolshift plan: <file name>').")
@output_option
def report_cmd(plan: Path, out: Path | None, fmt: str | None, title: str | None, output: str) -> None:
    """A reviewer's report of PLAN: charts of pools and flavors before and after, subnet headroom,
    the steps as a timeline, excluded nodes. HTML is one self-contained file; Markdown suits a
    pull-request comment.
    """
    from planner.planfile import read_plan
    from planner.review._io import write_text_atomic
    from planner.review.report import render_html, render_markdown

    if fmt is None:
        fmt = "md" if out is not None and out.suffix.lower() in (".md", ".markdown") else "html"
    if out is None and output == "json":
        raise bad_argument("--output json needs --out FILE (otherwise the report is the output)", "--out")
    doc = read_plan(plan)
    title = title or f"poolshift plan: {plan.name}"
    text = render_markdown(doc, title=title) if fmt == "md" else render_html(doc, title=title)
    if out is None:
        echo(text.rstrip("\n"))
        return
    write_text_atomic(out, text)
    if output == "json":
        echo_json({"report": str(out), "format": fmt, "bytes": len(text.encode("utf-8"))})
    else:
        echo(f"wrote {fmt} report of {plan} to {out}", err=True)


@main.command("whatif")
@click.option("--inventory", "inventory_path", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Inventory snapshot (poolshift.inventory/v1 JSON).")
@click.option("--spec", "spec_path", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Base spec (poolshift.spec/v1 YAML).")
@click.option("--scenarios", "scenarios_path", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Scenario file (poolshift.scenarios/v1 YAML).")
@format_option("table", "md", "json", default="table")
@click.option("--only", multiple=True, metavar="NAME", help="Plan only this scenario (repeatable).")
@click.option("--save-plans", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Also write each feasible scenario's plan to DIR/<scenario>.plan.json.")
@solver_options
@click.option("--jobs", type=click.IntRange(min=1, max=2), default=2, show_default=True,
              help="Scenarios planned at the same time, each in its own process.")
@output_option
def whatif_cmd(inventory_path: Path, spec_path: Path, scenarios_path: Path, fmt: str, only: tuple[str, ...],
               save_plans: Path | None, solver: SolverArgs, jobs: int, output: str) -> None:
    """Plan every scenario of a scenario file and compare them side by side.

    A scenario changes the inventory (add or remove nodes, add a pool, set free addresses, lock
    nodes) and/or overlays the spec. A scenario without a feasible placement is reported as such;
    the others still run. Exit 0 when the comparison ran, 2 for a bad scenario, spec or snapshot.
    """
    from planner.review._io import load_json_mapping, load_yaml_mapping, write_text_atomic
    from planner.review.scenarios import load_scenarios
    from planner.review.whatif import comparison_document, render_comparison, run_whatif

    scenarios = load_scenarios(scenarios_path)
    snapshot = load_json_mapping(inventory_path)
    spec = load_yaml_mapping(spec_path)
    if save_plans is not None and save_plans.exists() and not save_plans.is_dir():
        raise bad_argument(f"{save_plans} is not a directory", "--save-plans")
    outcomes = run_whatif(scenarios, snapshot, spec, scenarios_source=str(scenarios_path),
                          snapshot_source=str(inventory_path), spec_source=str(spec_path),
                          options=solver.plan_options(), only=only, max_workers=jobs)
    written: dict[str, str] = {}
    if save_plans is not None:
        try:
            save_plans.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise bad_argument(f"cannot create {save_plans} ({exc.strerror or exc})", "--save-plans") from None
        for outcome in outcomes:
            if outcome.plan is not None:
                plan_path = save_plans / f"{outcome.name}.plan.json"
                write_text_atomic(plan_path, outcome.plan.to_json())
                written[outcome.name] = str(plan_path)
    if output == "json" or fmt == "json":
        doc = comparison_document(outcomes)
        for entry in doc["scenarios"]:
            entry["plan_file"] = written.get(entry["name"])
        echo_json(doc)
        return
    echo(render_comparison(outcomes, markdown=fmt == "md").rstrip("\n"))
    for name, path in written.items():
        echo(f"plan of {name} written to {path}", err=True)
