"""Helpers shared by the apply tests: client factories, placement and request checks, request recording."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from planner.apply import ApplyOptions
from planner.modelarts.client import ModelArtsClient
from planner.modelarts.emulator.api import EmuRequest, EmuResponse
from planner.planfile import PlanDocument, content_digest, parse_plan
from tests.emulator_server import EmulatorHandle


def factory(emu: EmulatorHandle, calls: list[bool] | None = None) -> Callable[[bool], ModelArtsClient]:
    """A client factory for the emulator (millisecond backoff); records each read_only flag in `calls`."""

    def make(read_only: bool) -> ModelArtsClient:
        if calls is not None:
            calls.append(read_only)
        return emu.client(read_only=read_only)

    return make


def fast(**overrides: Any) -> ApplyOptions:
    """Execute options for tests: short polls."""
    values: dict[str, Any] = {"execute": True, "poll_interval": 0.01, "job_timeout": 20.0}
    values.update(overrides)
    return ApplyOptions(**values)


def record_requests(emu: EmulatorHandle, *, post_latency: float = 0.0) -> list[tuple[str, str]]:
    """Record (method, path) of every API request the emulator answers; optionally delay batch-migrate answers
    (after the request was accepted), which widens the window between acceptance and the client seeing it."""
    seen: list[tuple[str, str]] = []
    inner = emu.api.handle

    def handle(request: EmuRequest) -> EmuResponse:
        response = inner(request)
        if not request.raw_path.startswith("/_emulator"):
            seen.append((request.method, request.raw_path))
            if post_latency and request.method == "POST":
                response.latency = max(response.latency, post_latency)
        return response

    emu.api.handle = handle  # type: ignore[method-assign]
    return seen


def edited(plan: PlanDocument, change: Callable[[dict[str, Any]], None]) -> PlanDocument:
    """A plan made from `plan` by `change` (on its JSON data), with what follows from the steps brought in line,
    as the planner would have written it: ids 1, 2, 3, ..., the pools' `after` counts, the summary's figures, the
    digest. Read back through the one plan reader."""
    data = plan.model_dump(mode="json")
    change(data)
    after = {pool: row["before"] for pool, row in data["pools"].items()}
    for i, step in enumerate(data["steps"], start=1):
        step["id"] = i
        size = len(step["body"]["migrateNodeNames"])
        after[step["pool_name"]] -= size
        after[step["body"]["toPoolName"]] += size
    for pool, row in data["pools"].items():
        row["after"] = after[pool]
    steps = data["steps"]
    data["summary"].update(
        moves=sum(len(s["body"]["migrateNodeNames"]) for s in steps), requests=len(steps),
        waves=max((s["wave"] for s in steps), default=0),
        staging_moves=sum(len(s["body"]["migrateNodeNames"]) for s in steps if s["staging"]),
        cross_cluster_requests=sum(1 for s in steps if s["body"]["fromClusterName"] != s["body"]["toClusterName"]))
    data["digest"] = content_digest(data)
    return parse_plan(data, source="edited plan")


def accepted_per_step(state: dict[str, Any], plan: PlanDocument) -> Counter[int]:
    """How many accepted batch-migrate requests the emulator recorded for each plan step."""
    key = {json.dumps([s.source, s.body_json()], sort_keys=True): s.id for s in plan.steps}
    counts: Counter[int] = Counter()
    for request in state["migrate_requests"]:
        counts[key.get(json.dumps([request["pool_name"], request["body"]], sort_keys=True), -1)] += 1
    return counts


def placement_problems(state: dict[str, Any], plan: PlanDocument) -> list[str]:
    """Where the live inventory differs from the plan's final placement (empty: every node is where it should be)."""
    inventory = state["inventory"]
    where = {n["metadata"]["name"]: (pool, n["status"]["phase"]) for pool, items in inventory["nodes"].items()
             for n in items}
    problems = []
    final: dict[str, str] = {}
    for step in plan.steps:
        for name in step.nodes:
            final[name] = step.target
    for name, pool in sorted(final.items()):
        if where.get(name) != (pool, "Available"):
            problems.append(f"{name}: {where.get(name)} instead of ({pool}, Available)")
    for pool, entry in plan.pools.items():
        have = len(inventory["nodes"].get(pool, []))
        if have != entry.after:
            problems.append(f"{pool}: {have} nodes instead of {entry.after}")
    return problems


def journal_events(path: Path) -> list[tuple[int | None, str]]:
    """(step, event) of every journal record, in order."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            out.append((record.get("step"), record["event"]))
    return out


def last_event(path: Path) -> dict[int, str]:
    """The last step event per step."""
    last: dict[int, str] = {}
    for step, event in journal_events(path):
        if step is not None:
            last[step] = event
    return last


def refuse_next_posts(emu: EmulatorHandle, count: int = 1, *, status: int = 500) -> list[str]:
    """Answer the next `count` batch-migrate requests with `status` before the emulator sees them (so none of
    them is accepted: a 5xx whose outcome the caller cannot know). Returns the paths it answered so."""
    answered: list[str] = []
    inner = emu.api.handle

    def handle(request: EmuRequest) -> EmuResponse:
        if request.method == "POST" and request.raw_path.endswith("/batch-migrate") and len(answered) < count:
            answered.append(request.raw_path)
            code, message = ("ModelArts.50005000", "internal error") if status >= 500 else ("APIGW.0000", "refused")
            return EmuResponse(status, {"error_code": code, "error_msg": message})
        return inner(request)

    emu.api.handle = handle  # type: ignore[method-assign]
    return answered


def rule_breaks(state: dict[str, Any], plan: PlanDocument, initial: dict[str, Any]) -> list[str]:
    """Every hard rule (PRODUCT §4, with the bounds of `plan`'s pool table and spec) broken in any state the
    emulator recorded (`history`: after each accepted request and each job's end) or in the final inventory.

    Migrations still in flight are counted as landed (out of their source, into their target), the worst case
    for floors and ceilings whichever pool the emulator lists them in. A pool that started outside a bound
    (above its max, below its floor) only breaks it by moving further away.
    """
    start = {pool: len(nodes) for pool, nodes in initial["nodes"].items()}
    start_flavors = {pool: Counter(n["spec"]["flavor"] for n in nodes) for pool, nodes in initial["nodes"].items()}
    start_free = {s["networkId"]: s["totalIps"] - s["usedIps"] for net in initial["networks"] for s in net["subnets"]}
    reserve = plan.spec.defaults.ip_reserve
    final = {"seq": "final", "event": "end", "in_flight": [], "subnets": {
                 s["networkId"]: s for net in state["inventory"]["networks"] for s in net["subnets"]},
             "pools": {pool: {"nodes": len(nodes), "flavors": Counter(n["spec"]["flavor"] for n in nodes)}
                       for pool, nodes in state["inventory"]["nodes"].items()}}
    breaks: list[str] = []
    for entry in [*state["history"], final]:
        counts = {pool: row["nodes"] for pool, row in entry["pools"].items()}
        flavors = {pool: Counter(row["flavors"]) for pool, row in entry["pools"].items()}
        for job in entry["in_flight"]:
            if job["listed_in"] == "source":
                counts[job["source"]] -= len(job["nodes"])
                counts[job["target"]] += len(job["nodes"])
                flavors[job["target"]][job["flavor"]] += len(job["nodes"])
        where = f"state {entry['seq']} ({entry['event']})"
        for pool, row in plan.pools.items():
            if counts[pool] < min(start[pool], row.floor):
                breaks.append(f"{where}: {pool} has {counts[pool]} nodes, below its floor {row.floor}")
            if row.max is not None and counts[pool] > max(start[pool], row.max):
                breaks.append(f"{where}: {pool} has {counts[pool]} nodes, above its max {row.max}")
            for flavor, cap in row.accepts.items():
                if cap is not None and flavors[pool][flavor] > max(cap, start_flavors[pool][flavor]):
                    breaks.append(f"{where}: {pool} has {flavors[pool][flavor]} {flavor}, above maxCount {cap}")
        for subnet, usage in entry["subnets"].items():
            free = usage["totalIps"] - usage["usedIps"]
            if free < min(start_free.get(subnet, free), reserve):
                breaks.append(f"{where}: subnet {subnet} has {free} free addresses, below its reserve {reserve}")
    return breaks
