"""The side process of `poolshift plan` (planner.planning.sidework): the same plan with or without it, its verifier
catches what the in-process verifier catches, and a child that fails leaves the work to the parent."""

from __future__ import annotations

import copy
import os
import signal
from typing import Any

import pytest
from pydantic import ValidationError

from benchmarks.generate import generate
from planner.errors import PlanningError
from planner.inventory import fingerprint_snapshot
from planner.planfile import PlanDocument
from planner.planning import PlanOptions, make_plan, sidework
from planner.spec import parse_spec
from planner.verify import verify_plan
from tests.core.builders import nodes_of, pool, snapshot, spec
from tests.core.test_verify import MUTATIONS, SNAP, SPEC, valid_plan

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the side process needs fork")

SIDE = PlanOptions(side_process=True)


def comparable(doc: PlanDocument) -> dict[str, Any]:
    data: dict[str, Any] = doc.model_dump(mode="json")
    for key in ("created_at", "digest"):
        data.pop(key)
    data["summary"].pop("solve_seconds")
    return data


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The side process on every snapshot, however small; the pids of the children started."""
    monkeypatch.setattr(sidework, "MIN_NODES", 0)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(sidework, "_load", lambda: 0.0)
    pids: list[int] = []
    real = sidework.SideWork.start

    def start(raw: dict[str, Any], spec_data: dict[str, Any], spec_source: str) -> sidework.SideWork | None:
        side = real(raw, spec_data, spec_source)
        if side is not None:
            pids.append(side.pid)
        return side

    monkeypatch.setattr(sidework.SideWork, "start", start)
    return pids


@pytest.mark.parametrize("family, busy", [("default", None), ("hard", "drain"), ("busy", "keep")])
def test_a_plan_is_the_same_with_the_side_process(started: list[int], family: str, busy: str | None) -> None:
    snapshot, spec = generate(2_000, 40, seed=3, family=family, busy_nodes=busy)
    alone = make_plan(copy.deepcopy(snapshot), spec)
    beside = make_plan(snapshot, spec, options=SIDE)
    assert started, "no side process was started"
    assert beside.document.inventory_fingerprint == fingerprint_snapshot(snapshot)
    assert comparable(beside.document) == comparable(alone.document)
    for pid in started:  # reaped: no zombie is left behind
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_the_side_verifier_finds_what_the_verifier_finds(name: str) -> None:
    data = copy.deepcopy(valid_plan())
    fn, expected = MUTATIONS[name]
    fn(data)
    try:
        doc = PlanDocument.model_validate(data)
    except ValidationError:
        pytest.skip("the plan model itself refuses this mutation")
    side = sidework.SideWork.start(SNAP, SPEC, "<spec>")
    assert side is not None
    with side:
        assert side.fingerprint() == fingerprint_snapshot(SNAP)
        problems = side.verify(doc)
    assert problems == verify_plan(SNAP, parse_spec(SPEC), doc)
    assert any(expected in p for p in problems), problems


def test_a_dead_child_answers_nothing() -> None:
    side = sidework.SideWork.start(SNAP, SPEC, "<spec>")
    assert side is not None
    with side:
        os.kill(side.pid, signal.SIGKILL)
        os.waitpid(side.pid, 0)  # dead for sure (it may have sent the fingerprint first: the snapshot is tiny)
        assert side.fingerprint() in (None, fingerprint_snapshot(SNAP))
        assert side.verify(PlanDocument.model_validate(valid_plan())) is None


def test_a_child_that_fails_answers_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(raw: dict[str, Any]) -> str:
        raise RuntimeError("broken")

    document = PlanDocument.model_validate(valid_plan())
    monkeypatch.setattr("planner.inventory.fingerprint_snapshot", broken)  # the child imports it after the fork
    side = sidework.SideWork.start(SNAP, SPEC, "<spec>")
    assert side is not None
    with side:
        assert side.fingerprint() is None
        assert side.verify(document) is None


@pytest.mark.parametrize("when", ["at once", "after the fingerprint"])
def test_the_plan_is_made_in_process_when_the_child_dies(monkeypatch: pytest.MonkeyPatch, started: list[int],
                                                         when: str) -> None:
    snapshot, spec = generate(1_000, 20, seed=5, family="hard")
    alone = make_plan(copy.deepcopy(snapshot), spec)
    real_start, real_fingerprint = sidework.SideWork.start, sidework.SideWork.fingerprint

    def start(raw: dict[str, Any], spec_data: dict[str, Any], spec_source: str) -> sidework.SideWork | None:
        side = real_start(raw, spec_data, spec_source)
        if side is not None and when == "at once":
            os.kill(side.pid, signal.SIGKILL)
        return side

    def fingerprint(self: sidework.SideWork) -> str | None:
        value = real_fingerprint(self)
        if when == "after the fingerprint":
            os.kill(self.pid, signal.SIGKILL)
        return value

    monkeypatch.setattr(sidework.SideWork, "start", start)
    monkeypatch.setattr(sidework.SideWork, "fingerprint", fingerprint)
    beside = make_plan(snapshot, spec, options=SIDE)
    assert started
    assert comparable(beside.document) == comparable(alone.document)
    assert beside.document.inventory_fingerprint == alone.document.inventory_fingerprint


def test_a_plan_that_fails_after_the_fork_reaps_the_child(started: list[int]) -> None:
    snap = snapshot([pool("pool-a", ["f.a"]), pool("pool-b", ["f.a"])], {"pool-a": nodes_of("a", 2),
                                                                          "pool-b": nodes_of("b", 3)})
    with pytest.raises(PlanningError, match="at least 4 nodes"):
        make_plan(snap, spec({"pool-a": {"min": 4}}), options=SIDE)
    assert started, "the child is forked once the problem is built, before the solve fails"
    with pytest.raises(ChildProcessError):
        os.waitpid(started[0], os.WNOHANG)


def test_only_a_large_snapshot_with_a_core_to_spare_gets_a_side_process(monkeypatch: pytest.MonkeyPatch) -> None:
    small = {"nodes": {"p": [{}] * 10}}
    large = {"nodes": {"p": [{}] * sidework.MIN_NODES}}
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(sidework, "_load", lambda: 1.2)
    assert not sidework.worthwhile(small)
    assert sidework.worthwhile(large)
    assert not sidework.worthwhile({"nodes": "not a mapping"})
    monkeypatch.setattr(sidework, "_load", lambda: 1.8)  # both cores busy
    assert not sidework.worthwhile(large)
    monkeypatch.setattr(sidework, "_load", lambda: 0.0)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert not sidework.worthwhile(large)
