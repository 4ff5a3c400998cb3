"""The emulator's routing table: which state operation answers which method and path.

Owns: mapping `(version, method, path segments, query, body)` of an authenticated ModelArts API request to
an `EmulatorState` operation and its JSON answer, including the query parsing each endpoint needs, and
whether a batch-migrate answer is lost (the `drop_after_accept` / `rate_lost_answer` faults).
Must not: authenticate, count requests or inject the request-level faults (that is `emulator.api`).
"""

from __future__ import annotations

import json
import random
from typing import Any
from urllib.parse import parse_qs

from planner.modelarts.emulator.objects import Refusal, bad_request
from planner.modelarts.emulator.state import EmulatorState

NO_API = Refusal(404, "APIGW.0101", "The API does not exist or has not been published in the environment.")


def query_of(query_string: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(query_string, keep_blank_values=True).items()}


def int_param(query: dict[str, str], key: str) -> int | None:
    value = query.get(key)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise bad_request(f"{key} must be an integer") from exc


def json_body(body: bytes, *, default: bytes = b"null") -> Any:
    try:
        return json.loads(body or default)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request("the body is not valid JSON") from exc


def dispatch(state: EmulatorState, rng: random.Random, method: str, version: str, path: list[str],
             query: dict[str, str], body: bytes) -> tuple[Any, bool]:
    """The JSON answer of one API request, and whether its connection is to be dropped after acceptance."""
    match (version, method, path):
        case ("v2", "POST", ["pools", pool, "nodes", "batch-migrate"]):
            job_id = state.batch_migrate(pool, json_body(body))
            faults = state.faults
            lost = faults.rate_lost_answer > 0 and rng.random() < faults.rate_lost_answer
            drop = faults.drop_after_accept > 0 or lost
            if faults.drop_after_accept > 0:
                faults.drop_after_accept -= 1
            return {"job_id": job_id}, drop
        case ("v2", "POST", ["pools", pool, "nodes", "batch-drain"]):
            return state.batch_drain(pool, json_body(body)), False
        case ("v2", "POST", ["pools", pool, "nodes", ("batch-lock" | "batch-unlock") as action]):
            return state.batch_lock(pool, json_body(body), lock=action == "batch-lock"), False
    if method != "GET":
        raise NO_API
    return _read(state, version, path, query), False


def _read(state: EmulatorState, version: str, path: list[str], query: dict[str, str]) -> Any:
    match (version, path):
        case ("v2", ["pools"]):
            return state.list_pools(status=query.get("status"), label_selector=query.get("labelSelector"),
                                    workspace_id=query.get("workspaceId") or None)
        case ("v2", ["pools", pool]):
            return state.show_pool(pool)
        case ("v2", ["pools", pool, "nodes"]):
            return state.list_pool_nodes(pool, limit=int_param(query, "limit"),
                                         continue_token=query.get("continue") or None)
        case ("v2", ["pools", pool, "nodes", node]):
            return state.show_pool_node(pool, node)
        case ("v2", ["pools", pool, "workloads"]):
            return state.list_workloads(pool, status=query.get("status") or None,
                                        workload_type=query.get("type") or None,
                                        hostip=query.get("hostip") or None, offset=int_param(query, "offset") or 0,
                                        limit=int_param(query, "limit") or 0)
        case ("v2", ["jobs"]):
            return state.list_jobs(name=query.get("name"), job_type=query.get("type"),
                                   since_ms=int_param(query, "since"), until_ms=int_param(query, "until"),
                                   limit=int_param(query, "limit") or 100, offset=int_param(query, "offset") or 0)
        case ("v2", ["jobs", job_id]):
            if state.faults.hide_get_job:
                raise NO_API
            return state.get_job(job_id)
        case ("v1", ["networks"]):
            return state.list_networks()
        case ("v1", ["networks", network]):
            return state.show_network(network)
        case ("v1", ["networks", network, "network-ip-availabilities"]):
            return state.show_network_available_ip(network, query.get("network_id") or None)
        case ("v1", ["workspaces"]):
            return state.list_workspaces(offset=int_param(query, "offset") or 0,
                                         limit=int_param(query, "limit") or 1000)
    raise NO_API
