"""CLI commands that read the ModelArts API: the `inventory` group and `inventory pull` (the group also holds
`inventory show`, defined with the core commands).

Also defines `pull_live_snapshot`, which `plan --live` reuses. httpx is imported inside the commands.
"""

from __future__ import annotations

from typing import Any

from planner.cli._common import echo, echo_json, main, warn
from planner.cli.core_cmds import inventory_show_cmd
from planner.cli.options import (
    ConnectionArgs,
    Output,
    check_suffix,
    connection_options,
    format_option,
    out_option,
    quiet_option,
)
from planner.cli.progress import Progress


@main.group("inventory")
def inventory_group() -> None:
    """Read pool inventory snapshots (poolshift.inventory/v1)."""


inventory_group.add_command(inventory_show_cmd)


def pull_live_snapshot(connection: ConnectionArgs, *, warn: bool = True,
                       warnings: list[str] | None = None) -> dict[str, Any]:
    """Pull a snapshot from the live API with a read-only client (it can send GET requests only).

    Each warning of the pull (a pool whose subnet stays unknown, a missing network) is added to `warnings` when a
    list is given (to print once a progress display is gone), else goes to stderr unless `warn` is false.
    """
    from planner.modelarts.client import ModelArtsClient
    from planner.modelarts.pull import pull_snapshot

    settings = connection.settings()
    notes: list[str] = [] if warnings is None else warnings
    with ModelArtsClient.from_settings(settings, read_only=True) as client:
        snapshot = pull_snapshot(client, settings.region, settings.project_id, warnings=notes)
    if warn and warnings is None:
        for line in notes:
            echo(f"poolshift: warning: {line}", err=True)
    return snapshot


@inventory_group.command("pull")
@connection_options
@out_option("Write the snapshot here, private to you (mode 0600); default: standard output")
@format_option("table", "json", default="table")
@quiet_option
def inventory_pull_cmd(connection: ConnectionArgs, out: Output | None, fmt: str, quiet: bool) -> None:
    """Read pools, nodes, networks and the Running workloads from the API into a snapshot.

    Warns on stderr for every pool whose subnet stays unknown (naming what was tried). With -o FILE,
    --format json prints a JSON receipt (counts, capture time) instead of a sentence.
    """
    from planner.modelarts.pull import write_snapshot

    if (note := check_suffix(out, "json")) is not None:
        warn(note)
    progress = Progress(quiet=quiet)
    notes: list[str] = []
    with progress.step("reading pools, nodes, networks and workloads from the API"):
        snapshot = pull_live_snapshot(connection, warnings=notes)
    for line in notes:
        warn(line)
    counts = {"pools": len(snapshot["pools"]), "nodes": sum(len(v) for v in snapshot["nodes"].values()),
              "networks": len(snapshot["networks"]),
              "workloads": sum(len(v) for v in snapshot.get("workloads", {}).values())}
    if out is None or out.path is None:
        echo_json(snapshot)
        return
    with progress.step(f"writing {out.path}"):
        write_snapshot(snapshot, out.path)
    if fmt == "json":
        echo_json({"snapshot": str(out.path), **counts, "captured_at": snapshot["captured_at"],
                   "workspace_id": snapshot.get("workspace_id")})
    else:
        echo(f"wrote {out.path}: {counts['pools']} pools, {counts['nodes']} nodes, {counts['networks']} networks, "
             f"{counts['workloads']} running workloads")
