"""Review commands: `diff` (two plans), `report` (HTML or Markdown), `whatif` (scenarios side by side).

Parse, call `planner.review`, print, exit. pandas and the planner pipeline are imported inside the commands
(through `planner.review`), so `poolshift --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from planner.cli._common import (
    CHANGES,
    bad_argument,
    echo,
    echo_json,
    keep_until_exit,
    main,
    paused_to_the_end,
    warn,
    write_output,
)
from planner.cli.options import (
    Output,
    SolverArgs,
    check_suffix,
    format_option,
    listing_options,
    out_option,
    quiet_option,
    solver_options,
)
from planner.cli.progress import Progress

MARKDOWN_TOP = 30
"""Rows per section of a Markdown summary report (the default for Markdown; `--full` lists every row)."""


@main.command("diff")
@click.argument("plan_a", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("plan_b", type=click.Path(path_type=Path, dir_okay=False))
@format_option("table", "md", "json", default="table")
@click.option("--exit-code", "exit_code", is_flag=True,
              help=f"Exit 0 when the plans are the same and {CHANGES} when they differ (errors keep 1-8).")
@paused_to_the_end
def diff_cmd(plan_a: Path, plan_b: Path, fmt: str, exit_code: bool) -> int:
    """What changed from PLAN_A to PLAN_B: summary, pools, nodes, requests (with what each does), order,
    excluded nodes.

    Timings and timestamps are ignored. Exit 0 whether or not the plans differ, unless --exit-code.
    """
    from planner.planfile import read_plan
    from planner.review.diff import diff_plans, render_diff

    result = diff_plans(read_plan(plan_a), read_plan(plan_b))
    if fmt == "json":
        echo_json(result.to_dict())
    else:
        echo(render_diff(result, name_a=str(plan_a), name_b=str(plan_b), markdown=fmt == "md").rstrip("\n"))
    return CHANGES if exit_code and not result.identical else 0


def _report_format(fmt: str | None, out: Output | None) -> str:
    """--format, else the file's suffix (.md, .markdown: Markdown), else HTML."""
    if fmt is not None:
        return fmt
    if out is not None and out.path is not None and out.path.suffix.lower() in (".md", ".markdown"):
        return "md"
    return "html"


@main.command("report")
@click.argument("plan", type=click.Path(path_type=Path, dir_okay=False))
@out_option("File to write (default: standard output); shared with your umask")
@format_option("html", "md", default="html", receipt=True)
@click.option("--title", default=None, help="Page title (default: 'poolshift plan: <file name>').")
@listing_options
@quiet_option
@paused_to_the_end
def report_cmd(plan: Path, out: Output | None, fmt: str | None, title: str | None, output: str, top: int | None,
               quiet: bool) -> None:
    """A reviewer's report of PLAN: the digest, what the requests do, charts of what changes (pools, flavors,
    subnet headroom, the steps by wave), targets not reached and why, every request and excluded node.

    HTML is one self-contained file (the format unless --format md or -o FILE.md); Markdown is a summary that
    fits a pull-request comment (changed pools, the requests to look at first, 30 rows per section) unless --full.
    """
    from planner.planfile import read_plan
    from planner.review.report import render_html, render_markdown

    target = out or Output(None)
    fmt = _report_format(fmt, out)
    if target.stdout and output == "json":
        raise bad_argument("--output json needs -o FILE (otherwise the report is the output)", "--out")
    if (note := check_suffix(out, fmt)) is not None:
        warn(note)
    progress = Progress(quiet=quiet)
    with progress.step(f"reading {plan}"):
        doc = read_plan(plan)
    title = title or f"poolshift plan: {plan.name}"
    with progress.step(f"rendering the {'Markdown' if fmt == 'md' else 'HTML'} report"):
        if fmt == "md":
            text = render_markdown(doc, title=title, top=MARKDOWN_TOP if top == 0 else top)
        else:
            text = render_html(doc, title=title)
    with progress.step(f"writing {target}"):
        write_output(target, text, shared=True)
    if target.path is None:
        return
    if output == "json":
        echo_json({"report": str(target.path), "format": fmt, "bytes": len(text.encode("utf-8")),
                   "digest": doc.digest})
    else:
        echo(f"wrote {fmt} report of {plan} to {target.path}", err=True)


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
              help="Scenarios planned at the same time (the command and a forked worker sharing its inventory).")
@quiet_option
@paused_to_the_end  # back on after the read, the preparation or the planning, the collector walked them again
def whatif_cmd(inventory_path: Path, spec_path: Path, scenarios_path: Path, fmt: str, only: tuple[str, ...],
               save_plans: Path | None, solver: SolverArgs, jobs: int, quiet: bool) -> None:
    """Plan every scenario of a scenario file and compare them side by side.

    A scenario changes the inventory (add or remove nodes, add a pool, set free addresses, lock
    nodes) and/or overlays the spec. A scenario without a feasible placement is reported as such;
    the others still run. Exit 0 when the comparison ran, 2 for a bad scenario, spec or snapshot.
    """
    from planner.planfile import write_plan
    from planner.planning import gc_paused
    from planner.review._io import load_yaml_mapping
    from planner.review.scenarios import load_scenarios
    from planner.review.whatif import run_whatif
    from planner.review.whatif_output import comparison_document, render_comparison
    from planner.snapshot import read_snapshot_file

    scenarios = load_scenarios(scenarios_path)
    with gc_paused():  # millions of small objects: see gc_paused
        snapshot = read_snapshot_file(inventory_path)
    keep_until_exit(snapshot)  # the console script ends without freeing it (`finish`)
    spec = load_yaml_mapping(spec_path)
    if save_plans is not None and save_plans.exists() and not save_plans.is_dir():
        raise bad_argument(f"{save_plans} is not a directory", "--save-plans")
    count = len(only) if only else len(scenarios.scenarios)
    with Progress(quiet=quiet).step(f"planning {count} scenario(s), up to {jobs} at a time"):
        outcomes = run_whatif(scenarios, snapshot, spec, scenarios_source=str(scenarios_path),
                              snapshot_source=str(inventory_path), spec_source=str(spec_path),
                              options=solver.plan_options(), only=only, max_workers=jobs,
                              keep_plans=save_plans is not None)
    written: dict[str, str] = {}
    if save_plans is not None:
        try:
            save_plans.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise bad_argument(f"cannot create {save_plans} ({exc.strerror or exc})", "--save-plans") from exc
        for outcome in outcomes:
            if outcome.plan is not None:
                plan_path = save_plans / f"{outcome.name}.plan.json"
                write_plan(plan_path, outcome.plan)
                written[outcome.name] = str(plan_path)
    if fmt == "json":
        doc = comparison_document(outcomes)
        for entry in doc["scenarios"]:
            entry["plan_file"] = written.get(entry["name"])
        echo_json(doc)
        return
    echo(render_comparison(outcomes, markdown=fmt == "md").rstrip("\n"))
    for name, path in written.items():
        echo(f"plan of {name} written to {path}", err=True)
