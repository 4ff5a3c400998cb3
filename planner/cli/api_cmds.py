"""CLI commands that read the ModelArts API: the `inventory` group and `inventory pull`.

Also defines `pull_live_snapshot`, which `plan --live` reuses. httpx is imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from planner.cli._common import echo, echo_json, main
from planner.cli.options import ConnectionArgs, connection_options, output_option


@main.group("inventory")
def inventory_group() -> None:
    """Read pool inventory snapshots (poolshift.inventory/v1)."""


def pull_live_snapshot(connection: ConnectionArgs, *, warn: bool = True) -> dict[str, Any]:
    """Pull a snapshot from the live API with a read-only client (it can send GET requests only).

    Each warning of the pull (a pool whose subnet stays unknown, a missing network) goes to stderr unless
    `warn` is false.
    """
    from planner.modelarts.client import ModelArtsClient
    from planner.modelarts.pull import pull_snapshot

    settings = connection.settings()
    warnings: list[str] = []
    with ModelArtsClient.from_settings(settings, read_only=True) as client:
        snapshot = pull_snapshot(client, settings.region, settings.project_id, warnings=warnings)
    if warn:
        for line in warnings:
            echo(f"poolshift: warning: {line}", err=True)
    return snapshot


@inventory_group.command("pull")
@connection_options
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the snapshot here (default: print it on stdout).")
@output_option
def inventory_pull_cmd(connection: ConnectionArgs, out_path: Path | None, output: str) -> None:
    """Read pools, nodes, networks and the Running workloads from the API into a snapshot.

    Warns on stderr for every pool whose subnet stays unknown (naming what was tried).
    """
    from planner.modelarts.pull import write_snapshot

    snapshot = pull_live_snapshot(connection)
    counts = {"pools": len(snapshot["pools"]), "nodes": sum(len(v) for v in snapshot["nodes"].values()),
              "networks": len(snapshot["networks"]),
              "workloads": sum(len(v) for v in snapshot.get("workloads", {}).values())}
    if out_path is None:
        echo_json(snapshot)
        return
    write_snapshot(snapshot, out_path)
    if output == "json":
        echo_json({"snapshot": str(out_path), **counts, "captured_at": snapshot["captured_at"],
                   "workspace_id": snapshot.get("workspace_id")})
    else:
        echo(f"wrote {out_path}: {counts['pools']} pools, {counts['nodes']} nodes, {counts['networks']} networks, "
             f"{counts['workloads']} running workloads")
