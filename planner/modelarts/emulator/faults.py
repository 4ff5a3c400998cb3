"""The emulator's fault settings: what goes wrong, how often, and when.

Owns: `Faults`, the validated set of injected failures (`POST /_emulator/faults` updates any subset):
throttling and server errors at random rates, added latency, scripted statuses, failing and lost
batch-migrate answers (counted or at random rates, for soak runs), paging and job-endpoint quirks, and
workloads that start on a node at a given API request count; also where a migrating node is listed while
its job runs (`migrating_nodes_in_source`). Must not: apply the faults (the API layer and
the state machine do).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class StartWorkload(BaseModel):
    """A Running workload that appears on `node` when the emulator receives its `at_request`-th API request."""

    model_config = ConfigDict(extra="forbid")

    node: str = Field(min_length=1)
    at_request: int = Field(ge=1, description="1-based count of API requests (control requests not counted)")
    name: str = Field("surprise-job", min_length=1)
    type: Literal["train", "infer", "notebook"] = "train"
    priority: str = "1"


class Faults(BaseModel):
    """Fault injection settings; `POST /_emulator/faults` updates any subset of them."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    rate_429: float = Field(0.0, ge=0.0, le=1.0, description="share of API requests answered 429 (seeded)")
    rate_5xx: float = Field(0.0, ge=0.0, le=1.0, description="share of API requests answered 500 (seeded)")
    latency: float = Field(0.0, ge=0.0, le=60.0, description="seconds added before every API answer")
    next_errors: list[Annotated[int, Field(ge=400, le=599)]] = Field(
        default_factory=list, description="statuses answered to the next API requests, in order")
    fail_jobs: int = Field(0, ge=0, description="the next N accepted migrations end Failed")
    rate_failed_jobs: float = Field(0.0, ge=0.0, le=1.0,
                                    description="share of accepted migrations that end Failed (seeded)")
    fail_nodes: list[str] = Field(default_factory=list,
                                  description="a migration that includes one of these nodes ends Failed")
    drop_after_accept: int = Field(0, ge=0, description="the next N accepted migrations are recorded, "
                                                        "then the connection is dropped without an answer")
    rate_lost_answer: float = Field(0.0, ge=0.0, le=1.0, description="share of accepted migrations whose "
                                                                    "answer is lost (connection dropped; seeded)")
    ignore_paging: bool = Field(False, description="ListPoolNodes ignores limit/continue and returns all")
    hide_get_job: bool = Field(False, description="GET /jobs/{id} answers 404 APIGW.0101 (unpublished)")
    start_workloads: list[StartWorkload] = Field(
        default_factory=list, description="Running workloads that start on a node at a given API request count")
    migrating_nodes_in_source: bool = Field(
        False, description="while a migration job runs, its nodes stay listed in the source pool as Deleting "
                           "(the sequence modelarts_api.md §4.2 expects), not in the target as Creating")
