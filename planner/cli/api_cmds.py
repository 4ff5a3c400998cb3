"""CLI commands that talk to the ModelArts API or stand in for it: `inventory pull` and `emulator`.

Also defines the `inventory` group (other modules attach subcommands to `inventory_group`) and
`pull_live_snapshot`, which `plan --live` reuses. httpx, FastAPI and uvicorn are imported inside the commands.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from planner.cli._common import bad_argument, echo, echo_json, main
from planner.cli.options import ConnectionArgs, connection_options, output_option

if TYPE_CHECKING:
    pass

F = TypeVar("F", bound=Callable[..., Any])


@main.group("inventory")
def inventory_group() -> None:
    """Read pool inventory snapshots (poolshift.inventory/v1)."""


def pull_live_snapshot(connection: ConnectionArgs) -> dict[str, Any]:
    """Pull a snapshot from the live API with a read-only client (it can send GET requests only)."""
    from planner.modelarts.client import ModelArtsClient
    from planner.modelarts.pull import pull_snapshot

    settings = connection.settings()
    with ModelArtsClient.from_settings(settings, read_only=True) as client:
        return pull_snapshot(client, settings.region, settings.project_id)


@inventory_group.command("pull")
@connection_options
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the snapshot here (default: print it on stdout).")
@output_option
def inventory_pull_cmd(connection: ConnectionArgs, out_path: Path | None, output: str) -> None:
    """Read pools, nodes and networks from the API into a snapshot."""
    from planner.modelarts.pull import write_snapshot

    snapshot = pull_live_snapshot(connection)
    counts = {"pools": len(snapshot["pools"]), "nodes": sum(len(v) for v in snapshot["nodes"].values()),
              "networks": len(snapshot["networks"])}
    if out_path is None:
        echo_json(snapshot)
        return
    write_snapshot(snapshot, out_path)
    if output == "json":
        echo_json({"snapshot": str(out_path), **counts, "captured_at": snapshot["captured_at"]})
    else:
        echo(f"wrote {out_path}: {counts['pools']} pools, {counts['nodes']} nodes, {counts['networks']} networks")


@main.command("emulator")
@click.option("--snapshot", "snapshot_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Seed inventory (poolshift.inventory/v1 JSON).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to listen on (0 picks a free one).")
@click.option("--ak", default=None, help="Access key the emulator accepts (AK/SK signing).")
@click.option("--sk", default=None, help="Secret key the emulator accepts.")
@click.option("--token", default=None, help="IAM token the emulator accepts (X-Auth-Token).")
@click.option("--job-seconds", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="How long a migration job runs (0 = done at once).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for job ids and random faults.")
@click.option("--rate-429", type=click.FloatRange(0, 1), default=0.0, help="Share of API requests answered 429.")
@click.option("--rate-5xx", type=click.FloatRange(0, 1), default=0.0, help="Share of API requests answered 500.")
@click.option("--latency", type=click.FloatRange(0, 60), default=0.0, help="Seconds added to every API answer.")
@click.option("--fail-jobs", type=click.IntRange(min=0), default=0, help="The next N migration jobs fail.")
@click.option("--drop-after-accept", type=click.IntRange(min=0), default=0,
              help="The next N accepted migrations drop the connection instead of answering.")
@click.option("--ignore-paging", is_flag=True, help="ListPoolNodes ignores limit/continue.")
@click.option("--hide-get-job", is_flag=True, help="GET /jobs/{id} answers 404, as if unpublished.")
def emulator_cmd(snapshot_path: Path, host: str, port: int, ak: str | None, sk: str | None, token: str | None,
                 job_seconds: float, seed: int, rate_429: float, rate_5xx: float, latency: float, fail_jobs: int,
                 drop_after_accept: int, ignore_paging: bool, hide_get_job: bool) -> None:
    """Serve a local ModelArts-compatible API seeded from a snapshot (GET /_emulator/state shows its state)."""
    from planner.inventory import read_snapshot_file
    from planner.modelarts.emulator.api import EmulatorApi
    from planner.modelarts.emulator.server import EmulatorServer
    from planner.modelarts.emulator.state import EmulatorState, Faults

    if (ak is None) != (sk is None):
        raise bad_argument("--ak and --sk go together", "--sk" if ak else "--ak")
    faults = Faults(rate_429=rate_429, rate_5xx=rate_5xx, latency=latency, fail_jobs=fail_jobs,
                    drop_after_accept=drop_after_accept, ignore_paging=ignore_paging, hide_get_job=hide_get_job)
    state = EmulatorState(read_snapshot_file(snapshot_path), job_seconds=job_seconds, seed=seed, faults=faults,
                          source=str(snapshot_path))
    api = EmulatorApi(state, ak=ak, sk=sk, token=token, seed=seed)
    server = EmulatorServer(api, host=host, port=port)
    auth = " and ".join(m for m, on in (("AK/SK", ak is not None), ("token", token is not None)) if on) or "none"
    echo(f"poolshift emulator: serving {server.url} for project {state.project_id} "
         f"(region {state.region or '-'}, auth: {auth}); Ctrl-C stops it", err=True)
    server.serve()
