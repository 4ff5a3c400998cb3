"""CLI commands of the core planner: `plan`, `show`, `inventory show`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from planner.cli._common import echo, echo_json, main, output_option
from planner.cli.api_cmds import inventory_group, workspace_option

F = TypeVar("F", bound=Callable[..., Any])


def _plan_options(f: F) -> F:
    """Solver and wave options shared by `plan` (and reused by workflows)."""
    f = click.option("--time-limit", type=click.FloatRange(min=0.01), default=30.0, show_default=True,
                     help="Solver wall-clock limit in seconds.")(f)
    f = click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Solver threads (1 keeps plans reproducible).")(f)
    f = click.option("--seed", type=int, default=0, show_default=True, help="Solver random seed.")(f)
    f = click.option("--backend", type=click.Choice(["cpsat", "scip", "cbc"]), default="cpsat",
                     show_default=True, help="OR-Tools backend.")(f)
    f = click.option("--max-parallel", type=click.IntRange(min=1), default=10, show_default=True,
                     help="At most this many requests in one wave.")(f)
    return click.option("--per-pool", type=click.IntRange(min=1), default=2, show_default=True,
                        help="At most this many requests touching one pool in one wave.")(f)


@main.command("plan")
@click.option("--inventory", "inventory_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Inventory snapshot (poolshift.inventory/v1 JSON).")
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Spec (poolshift.spec/v1 YAML).")
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the plan (JSON). Without it the plan is only summarised.")
@click.option("--live", is_flag=True, help="Read the inventory from the API instead of a file.")
@click.option("--endpoint", help="API endpoint (with --live).")
@click.option("--region", help="Region (with --live).")
@click.option("--project-id", help="Project id (with --live).")
@workspace_option
@_plan_options
@output_option
def plan_cmd(inventory_path: Path | None, spec_path: Path, out_path: Path | None, live: bool, endpoint: str | None,
             region: str | None, project_id: str | None, time_limit: float, workers: int, seed: int, backend: str,
             max_parallel: int, per_pool: int, output: str) -> None:
    """Solve for the best reachable placement and write the ordered plan."""
    from planner.errors import InputError
    from planner.pipeline import PlanOptions, gc_paused, make_plan
    from planner.planfile import write_plan
    from planner.render import summary_lines
    from planner.spec import read_spec_file

    if live == (inventory_path is not None):
        raise InputError("give exactly one of --inventory FILE or --live", source="arguments", path="--inventory")
    options = PlanOptions(time_limit=time_limit, workers=workers, seed=seed, backend=backend,
                          max_parallel=max_parallel, per_pool=per_pool)
    with gc_paused():
        spec_data = read_spec_file(spec_path)
        if live:
            from planner.cli.api_cmds import pull_live_snapshot

            snapshot = pull_live_snapshot(endpoint=endpoint, region=region, project_id=project_id)
            source = "live inventory"
        else:
            from planner.inventory import read_snapshot_file

            assert inventory_path is not None
            snapshot = read_snapshot_file(inventory_path)
            source = str(inventory_path)
        plan = make_plan(snapshot, spec_data, options=options, snapshot_source=source, spec_source=str(spec_path))
    if out_path is not None:
        write_plan(out_path, plan.document)
    if output == "json":
        echo_json({"plan": str(out_path) if out_path else None, "summary": plan.document["summary"]})
    else:
        for line in summary_lines(plan.document):
            echo(line)
        if out_path is not None:
            echo(f"plan written to {out_path}")


@main.command("show")
@click.argument("plan_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "md", "json"]), default="table", show_default=True)
@output_option
def show_cmd(plan_path: Path, fmt: str, output: str) -> None:
    """Show a plan for review: before/after per pool, each request, excluded nodes."""
    from planner.planfile import read_plan
    from planner.render import render_plan

    doc = read_plan(plan_path)
    if fmt == "json" or output == "json":
        echo_json(doc)
    else:
        echo(render_plan(doc, fmt))


@inventory_group.command("show")
@click.argument("snapshot_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "md"]), default="table", show_default=True)
@output_option
def inventory_show_cmd(snapshot_path: Path, fmt: str, output: str) -> None:
    """Pools × flavors, subnets and movable counts of a snapshot."""
    from planner.inventory import load_snapshot
    from planner.render import render_inventory

    inv = load_snapshot(snapshot_path)
    if output == "json":
        echo_json({
            "pools": inv.pools.to_dict(orient="records"),
            "pool_flavors": inv.pool_flavors.astype(object).where(inv.pool_flavors.notna(), None).to_dict(
                orient="records"),
            "subnets": inv.subnets.to_dict(orient="records"),
            "nodes": {"total": len(inv.nodes), "movable": int(inv.nodes["movable"].sum()) if len(inv.nodes) else 0},
        })
    else:
        echo(render_inventory(inv, fmt))
