"""CLI commands of the core planner: `plan`, `show`, `inventory show` (added to the `inventory` group by api_cmds,
so that `plan` never imports the API commands)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from planner.cli._common import (
    CHANGES,
    echo,
    echo_json,
    keep_until_exit,
    main,
    paused_to_the_end,
    warn,
    write_output,
)
from planner.cli.options import (
    ConnectionArgs,
    Output,
    SolverArgs,
    check_suffix,
    connection_options,
    format_option,
    listing_options,
    out_option,
    quiet_option,
    solver_options,
)
from planner.cli.progress import Progress

if TYPE_CHECKING:
    from planner.inventory import Inventory
    from planner.planning import Plan

MARKDOWN_TOP = 30
"""Rows per section of a Markdown summary (the default for Markdown; `--full` lists every row)."""


def _read_and_plan(inventory_path: Path | None, spec_path: Path, live: bool, connection: ConnectionArgs,
                   solver: SolverArgs, wave_size: int, per_pool: int, progress: Progress) -> Plan:
    """Read the spec and the inventory (file or API) and plan; the caller keeps the collector paused."""
    from planner.errors import InputError
    from planner.planning import make_plan
    from planner.spec import read_spec_file

    if live == (inventory_path is not None):
        raise InputError("give exactly one of --inventory FILE or --live", source="arguments", path="--inventory")
    options = solver.plan_options(wave_size=wave_size, per_pool=per_pool)
    spec_data = read_spec_file(spec_path)
    if live:
        from planner.cli.api_cmds import pull_live_snapshot

        notes: list[str] = []
        with progress.step("reading the live inventory"):
            snapshot = pull_live_snapshot(connection, warnings=notes)
        for line in notes:
            warn(line)
        source = "live inventory"
    else:
        from planner.inventory import read_snapshot_file

        assert inventory_path is not None
        with progress.step(f"reading {inventory_path}"):
            snapshot = read_snapshot_file(inventory_path)
        source = str(inventory_path)
    keep_until_exit(snapshot)
    with progress.step(f"planning (solver time limit {solver.time_limit:g} s)"):
        return make_plan(snapshot, spec_data, options=options, snapshot_source=source,
                         spec_source=str(spec_path))


def _plan_and_write(inventory_path: Path | None, spec_path: Path, out: Output | None, live: bool,
                    connection: ConnectionArgs, solver: SolverArgs, wave_size: int, per_pool: int, fmt: str,
                    progress: Progress) -> Plan:
    """`plan` up to the plan written (if `out`), its warnings printed."""
    from planner.errors import InputError
    from planner.planfile import write_plan

    if out is not None and out.stdout and fmt == "json":
        raise InputError("-o - and --format json both write to standard output; pick one", source="arguments",
                         path="-o/--out")
    if (note := check_suffix(out, "json")) is not None:
        warn(note)
    plan = _read_and_plan(inventory_path, spec_path, live, connection, solver, wave_size, per_pool, progress)
    for line in plan.warnings:
        warn(line)
    if out is not None:
        with progress.step(f"writing {out}"):
            if out.path is None:
                echo(plan.document.sealed_json().rstrip("\n"))  # the text of the dump it was sealed from
            else:
                write_plan(out.path, plan.document)
    return plan


@main.command("plan")
@click.option("--inventory", "inventory_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Inventory snapshot (poolshift.inventory/v1 JSON).")
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Spec (poolshift.spec/v1 YAML).")
@out_option("Where to write the plan (JSON, private to you: mode 0600). Without it the plan is only summarised")
@click.option("--live", is_flag=True, help="Read the inventory from the API instead of a file.")
@connection_options
@solver_options
@click.option("--wave-size", type=click.IntRange(min=1), default=10, show_default=True,
              help="At most this many requests in one wave.")
@click.option("--per-pool", type=click.IntRange(min=1), default=2, show_default=True,
              help="At most this many requests touching one pool in one wave.")
@click.option("--detailed-exitcode", is_flag=True,
              help=f"Exit 0 when the plan changes nothing and {CHANGES} when it has requests (errors keep 1-8).")
@format_option("table", "json", default="table")
@quiet_option
@paused_to_the_end
def plan_cmd(inventory_path: Path | None, spec_path: Path, out: Output | None, live: bool,
             connection: ConnectionArgs, solver: SolverArgs, wave_size: int, per_pool: int, detailed_exitcode: bool,
             fmt: str, quiet: bool) -> int:
    """Solve for the best reachable placement and write the ordered plan."""
    # The collector is paused from the first line to the end (`paused_to_the_end`): importing the planning modules
    # (pydantic's models, OR-Tools) triggered some 70 collections, and with the snapshot's millions of objects alive
    # each collection the writing triggered walked them all again (planner.collector; benchmarks/RESULTS.md).
    plan = _plan_and_write(inventory_path, spec_path, out, live, connection, solver, wave_size, per_pool, fmt,
                           Progress(quiet=quiet))
    _print_result(plan, out, fmt)
    keep_until_exit(plan)
    return CHANGES if detailed_exitcode and plan.document.steps else 0


def _print_result(plan: Plan, out: Output | None, fmt: str) -> None:
    """What `plan` prints once the plan is made: the JSON summary, or the key facts and where the plan went."""
    if fmt == "json":
        echo_json({"plan": str(out.path) if out and out.path else None, "digest": plan.document.digest,
                   "summary": plan.document.summary.model_dump(mode="json")})
        return
    from planner.review.summary import summary_lines

    to_stderr = out is not None and out.stdout
    for line in summary_lines(plan.document):
        echo(line, err=to_stderr)
    if out is not None and out.path is not None:
        echo(f"plan written to {out.path}")


def terminal_width(wide: bool) -> int | None:
    """Columns to fit text tables into: the terminal's (or $COLUMNS), None with --wide or when not on a terminal."""
    import os

    if wide:
        return None
    if not (sys.stdout.isatty() or os.environ.get("COLUMNS", "").strip().isdigit()):
        return None
    return max(40, shutil.get_terminal_size().columns)


@main.command("show")
@click.argument("plan_path", type=click.Path(dir_okay=False, path_type=Path))
@format_option("table", "md", "json", default="table")
@listing_options
@click.option("--wide", is_flag=True, help="Text: every column, one line per row (default: fit the terminal).")
@out_option("Write to this file instead of standard output (with your umask: it is meant for sharing)")
@paused_to_the_end
def show_cmd(plan_path: Path, fmt: str, top: int | None, wide: bool, out: Output | None) -> None:
    """Show a plan for review: its digest, what the requests do, before/after per pool, each request with all of
    its nodes, targets not reached, excluded nodes.

    Markdown is a summary by default (changed pools and the requests to look at first, 30 rows per section, a
    count of the rest) that fits a pull-request comment; --full lists every row.
    """
    from planner.planfile import read_plan
    from planner.review.show import render_plan

    doc = read_plan(plan_path)
    target = out or Output(None)
    if (note := check_suffix(out, fmt)) is not None:
        warn(note)
    if fmt == "json":
        write_output(target, doc.to_json(), shared=True)
        return
    if top == 0:
        top = MARKDOWN_TOP if fmt == "md" else None
    width = terminal_width(wide) if fmt == "table" and target.stdout else None
    text = render_plan(doc, fmt, top=top, width=width)
    write_output(target, text if text.endswith("\n") else text + "\n", shared=True)


@click.command("show")  # in the `inventory` group (api_cmds adds it)
@click.argument("snapshot_path", type=click.Path(dir_okay=False, path_type=Path))
@format_option("table", "md", "json", default="table")
@click.option("--wide", is_flag=True, help="Text: every column, one line per row (default: fit the terminal).")
@paused_to_the_end
def inventory_show_cmd(snapshot_path: Path, fmt: str, wide: bool) -> None:
    """What a snapshot holds: pools, the flavors each accepts (with maxCount), subnets, super nodes, every node
    that may not move (with the reason), busy nodes with their workloads, pools whose subnet is unknown."""
    from planner.inventory import load_snapshot
    from planner.review.inventory_view import busy_nodes_json, render_inventory

    inv = load_snapshot(snapshot_path)
    if fmt == "json":
        nodes = inv.nodes
        stuck = nodes.loc[~nodes["movable"]]
        echo_json({
            "pools": inv.pools.to_dict(orient="records"),
            "pool_flavors": inv.pool_flavors.astype(object).where(inv.pool_flavors.notna(), None).to_dict(
                orient="records"),
            "subnets": inv.subnets.to_dict(orient="records"),
            "nodes": {"total": len(nodes), "movable": int(nodes["movable"].sum()) if len(nodes) else 0},
            "immovable": stuck[["node", "pool", "reason"]].to_dict(orient="records"),
            "super_nodes": _super_nodes_json(inv),
            "busy_nodes": busy_nodes_json(inv),
        })
    else:
        echo(render_inventory(inv, fmt, width=terminal_width(wide) if fmt == "table" else None))


def _super_nodes_json(inv: Inventory) -> list[dict[str, object]]:
    """Each super node: its id, pool, flavor, member nodes, and whether it may move."""
    nodes = inv.nodes
    members = nodes.loc[nodes["unit_size"] > 1]
    groups: dict[str, list[tuple[str, str, str, bool]]] = {}
    for node, pool, flavor, unit, movable in zip(members["node"], members["pool"], members["flavor"],
                                                 members["unit"], members["movable"], strict=True):
        groups.setdefault(str(unit), []).append((str(node), str(pool), str(flavor), bool(movable)))
    return [{"super_node": unit, "pool": group[0][1], "flavor": group[0][2], "nodes": [g[0] for g in group],
             "movable": all(g[3] for g in group)} for unit, group in sorted(groups.items())]
