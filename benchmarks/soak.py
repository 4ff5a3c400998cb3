"""Soak: a 10,000-node plan of several hundred requests run against a faulty emulator, killed and resumed.

    python -m benchmarks.soak [--nodes 10000 --pools 200 --seed 1 --max-batch-size 1]
                              [--rate-5xx 0.05 --rate-lost-answer 0.02 --rate-failed-jobs 0.01]
                              [--kills 20 --kill-after 2 60] [--json out.json] [--markdown out.md]

Not a CI test (it takes minutes). What it does:

1. generates the instance (`benchmarks.generate`) and plans it in-process (`planner.planning.make_plan`);
   `--max-batch-size 1` turns the 480 moves of the default instance into 480 requests;
2. serves the inventory from the emulator in a thread of this process (loopback only), with seeded faults: a
   share of every API request answered 500 before it is looked at, a share of accepted batch-migrates whose
   answer is lost (the connection dropped after acceptance), a share of migration jobs that end Failed;
3. runs the real CLI in a child process, `poolshift apply PLAN --endpoint ... --execute`, then again with
   `--resume` and only `--endpoint` (region and project come from the journal) until it exits 0; while
   `--kills` SIGKILLs are left, each launch is killed at a random moment (seeded) with probability 0.8; a run
   that stops on a failed job (exit 6) or an API outage (exit 5) is resumed like a killed one; any other exit
   code ends the soak;
4. reads the emulator's request log, jobs and state history and reports: requests sent (every API request,
   and the batch-migrate POSTs), retries (POSTs beyond one per step; reads answered 500, each sent again),
   lost answers, failed jobs, duplicates (an accepted request for a step that already had an accepted job
   that did not fail: must be 0), misplaced nodes (a planned node not `Available` in its planned pool, or a
   pool whose node count differs from the plan: must be 0), hard-rule breaks in any state the emulator
   recorded (must be 0), SIGKILLs, launches and wall time (`time.perf_counter()` around step 3).

Exit status: 0 when duplicates, misplaced nodes and hard-rule breaks are all 0 and the run finished; 1 otherwise.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import generate as gen
from planner.modelarts.emulator.api import EmulatorApi
from planner.modelarts.emulator.server import EmulatorServer
from planner.modelarts.emulator.state import EmulatorState, Faults
from planner.planfile import PlanDocument, write_plan
from planner.planning import PlanOptions, make_plan

REPO_ROOT = Path(__file__).resolve().parent.parent
AK, SK = "AKSOAK0BENCHMARK0000", "sk-soak-benchmark-not-a-secret"
RESUMABLE = {5, 6, -signal.SIGKILL}


@dataclass
class Soak:
    """Everything the soak measured (the JSON report)."""

    nodes: int
    pools: int
    seed: int
    steps: int
    moves: int
    waves: int
    faults: dict[str, float]
    launches: int = 0
    sigkills: int = 0
    sigkills_mid_steps: int = 0      # kills that landed after the launch had journaled a step record
    exit_codes: dict[str, int] = field(default_factory=dict)
    finished: bool = False
    wall_seconds: float = 0.0
    api_requests: int = 0
    api_5xx: int = 0
    posts_sent: int = 0
    posts_5xx: int = 0
    posts_accepted: int = 0
    lost_answers: int = 0
    failed_jobs: int = 0
    post_retries: int = 0
    read_retries: int = 0
    duplicates: int = 0
    misplaced: int = 0
    rule_breaks: int = 0
    states_checked: int = 0
    problems: list[str] = field(default_factory=list)
    machine: str = ""

    @property
    def ok(self) -> bool:
        return self.finished and self.duplicates == 0 and self.misplaced == 0 and self.rule_breaks == 0


def _instance(args: argparse.Namespace) -> tuple[dict[str, Any], PlanDocument]:
    snapshot, spec = gen.generate(args.nodes, args.pools, seed=args.seed)
    spec["limits"]["max_batch_size"] = args.max_batch_size
    plan = make_plan(copy.deepcopy(snapshot), spec, options=PlanOptions(time_limit=60)).document
    return snapshot, plan


def _launch(plan_path: Path, url: str, region: str, project: str, lock_dir: Path, args: argparse.Namespace,
            *, resume: bool) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "POOLSHIFT_"))}
    env.update(HUAWEICLOUD_SDK_AK=AK, HUAWEICLOUD_SDK_SK=SK, POOLSHIFT_LOCK_DIR=str(lock_dir),
               PYTHONPATH=str(REPO_ROOT))
    # The endpoint is always given (a loopback URL): a resume whose journal has no start record yet (killed while
    # still checking staleness) must never fall back to the region's real endpoint. Region and project come
    # from the journal's start record on a resume (issue 13.5), else from the plan.
    where = ["--endpoint", url, "--resume"] if resume else ["--endpoint", url, "--region", region,
                                                             "--project-id", project]
    command = [sys.executable, "-c", "from planner.cli import main; main()", "apply", str(plan_path), *where,
               "--execute", "--poll-interval", str(args.poll_interval), "--max-parallel", str(args.max_parallel)]
    log = open(plan_path.with_suffix(".log"), "ab")  # noqa: SIM115  (closed when the child is reaped)
    return subprocess.Popen(command, env=env, stdout=log, stderr=log)


def _drive(soak: Soak, plan_path: Path, server: EmulatorServer, region: str, project: str,
           args: argparse.Namespace) -> None:
    """Launch, kill at random, resume, until a run exits 0 or with a code a resume cannot mend."""
    rng = random.Random(args.seed)
    lock_dir = plan_path.parent / "locks"
    journal = plan_path.with_name(plan_path.name + ".journal.jsonl")
    codes: Counter[str] = Counter()
    while soak.launches < args.max_launches:
        before = _lines(journal)
        proc = _launch(plan_path, server.url, region, project, lock_dir, args, resume=soak.launches > 0)
        soak.launches += 1
        kill_at = None
        if soak.sigkills < args.kills and rng.random() < 0.8:
            kill_at = time.monotonic() + rng.uniform(*args.kill_after)
        while proc.poll() is None:
            if kill_at is not None and time.monotonic() >= kill_at:
                proc.send_signal(signal.SIGKILL)
                soak.sigkills += 1
                soak.sigkills_mid_steps += _lines(journal) > before + 1   # more than its start record
                kill_at = None
            time.sleep(0.01)
        code = proc.wait()
        codes[str(code)] += 1
        if code == 0:
            soak.finished = True
            break
        if code not in RESUMABLE:
            soak.problems.append(f"launch {soak.launches} exited {code} (see {plan_path.with_suffix('.log')})")
            break
    soak.exit_codes = dict(sorted(codes.items()))


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _step_of(plan: PlanDocument) -> dict[str, int]:
    return {json.dumps([s.source, s.body_json()], sort_keys=True): s.id for s in plan.steps}


def _count(soak: Soak, state: dict[str, Any], log: list[dict[str, Any]], plan: PlanDocument) -> None:
    """Requests, retries, duplicates and lost answers from the emulator's request log and jobs."""
    posts = [r for r in log if r["method"] == "POST" and r["path"].endswith("/batch-migrate")]
    soak.api_requests, soak.api_5xx = len(log), sum(1 for r in log if r["status"] >= 500)
    soak.posts_sent, soak.posts_5xx = len(posts), sum(1 for r in posts if r["status"] >= 500)
    soak.lost_answers = sum(1 for r in posts if r["dropped"])
    soak.posts_accepted = len(state["migrate_requests"])
    soak.post_retries = soak.posts_sent - len(plan.steps)
    soak.read_retries = soak.api_5xx - soak.posts_5xx
    phase = {job["jobId"]: job["phase"] for job in state["jobs"]}
    soak.failed_jobs = sum(1 for p in phase.values() if p == "Failed")
    step_of = _step_of(plan)
    live: set[int] = set()   # steps with an accepted job that did not fail
    for request in state["migrate_requests"]:
        step = step_of.get(json.dumps([request["pool_name"], request["body"]], sort_keys=True), -1)
        if step == -1:
            soak.problems.append(f"an accepted request matches no step: {request['pool_name']}")
        if step in live:
            soak.duplicates += 1
        if phase.get(request["job_id"]) != "Failed":
            live.add(step)
    missing = sorted(set(step_of.values()) - live)
    if missing:
        soak.problems.append(f"steps never accepted: {missing[:10]}")


def _placement(soak: Soak, state: dict[str, Any], plan: PlanDocument) -> None:
    """Misplaced nodes: a planned node not Available in its planned pool; a pool count unlike the plan's."""
    inventory = state["inventory"]
    where = {n["metadata"]["name"]: (pool, n["status"]["phase"]) for pool, items in inventory["nodes"].items()
             for n in items}
    final = {name: step.target for step in plan.steps for name in step.nodes}
    wrong = [name for name, pool in final.items() if where.get(name) != (pool, "Available")]
    counts = [pool for pool, row in plan.pools.items() if len(inventory["nodes"].get(pool, [])) != row.after]
    soak.misplaced = len(wrong) + len(counts)
    soak.problems += [f"node {n} is at {where.get(n)}, the plan puts it in {final[n]}" for n in wrong[:10]]
    soak.problems += [f"pool {p} has {len(inventory['nodes'].get(p, []))} nodes, the plan {plan.pools[p].after}"
                      for p in counts[:10]]


def _rule_breaks(soak: Soak, state: dict[str, Any], plan: PlanDocument, snapshot: dict[str, Any]) -> None:
    """Floors and maxes of the plan's pool table in every state the emulator recorded (in flight = landed)."""
    start = {pool: len(items) for pool, items in snapshot["nodes"].items()}
    soak.states_checked = len(state["history"])
    for entry in state["history"]:
        counts = {pool: row["nodes"] for pool, row in entry["pools"].items()}
        for job in entry["in_flight"]:
            if job["listed_in"] == "source":
                counts[job["source"]] -= len(job["nodes"])
                counts[job["target"]] += len(job["nodes"])
        for pool, row in plan.pools.items():
            low, high = min(start[pool], row.floor), max(start[pool], row.max) if row.max is not None else None
            if counts[pool] < low or (high is not None and counts[pool] > high):
                soak.rule_breaks += 1
                soak.problems.append(f"state {entry['seq']}: pool {pool} has {counts[pool]} nodes")


def run(args: argparse.Namespace) -> Soak:
    snapshot, plan = _instance(args)
    faults = {"rate_5xx": args.rate_5xx, "rate_lost_answer": args.rate_lost_answer,
              "rate_failed_jobs": args.rate_failed_jobs}
    soak = Soak(nodes=args.nodes, pools=args.pools, seed=args.seed, steps=len(plan.steps),
                moves=plan.summary.moves, waves=plan.summary.waves, faults=faults,
                machine=f"{platform.node()}: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
                        f"Python {platform.python_version()}")
    state = EmulatorState(copy.deepcopy(snapshot), job_seconds=args.job_seconds, seed=args.seed,
                          faults=Faults(**faults))
    api = EmulatorApi(state, ak=AK, sk=SK, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="poolshift-soak-") as folder:
        plan_path = Path(args.keep or folder) / "plan.json"
        plan_path.parent.mkdir(parents=True, exist_ok=True)
        write_plan(plan_path, plan)
        with EmulatorServer(api) as server:
            started = time.perf_counter()
            _drive(soak, plan_path, server, snapshot.get("region") or "cn-north-4", snapshot["project_id"], args)
            soak.wall_seconds = round(time.perf_counter() - started, 1)
            dump = {**state.dump(), "requests": list(api.request_log)}
    _count(soak, dump, dump["requests"], plan)
    _placement(soak, dump, plan)
    _rule_breaks(soak, dump, plan, snapshot)
    return soak


def markdown(soak: Soak) -> str:
    rows = [
        ("instance", f"{soak.nodes:,} nodes, {soak.pools} pools, seed {soak.seed}: {soak.steps} requests "
                     f"({soak.moves} moves, {soak.waves} waves)"),
        ("faults", ", ".join(f"{k} {v:g}" for k, v in soak.faults.items())),
        ("launches / SIGKILLs", f"{soak.launches} / {soak.sigkills}, {soak.sigkills_mid_steps} of them after the "
                                f"launch had journaled a step (exit codes {soak.exit_codes})"),
        ("API requests sent", f"{soak.api_requests:,} ({soak.api_5xx:,} answered 500)"),
        ("batch-migrate POSTs sent", f"{soak.posts_sent} ({soak.posts_5xx} answered 500, {soak.lost_answers} "
                                     f"answers lost after acceptance, {soak.posts_accepted} accepted)"),
        ("retries", f"{soak.post_retries} POSTs beyond one per step; {soak.read_retries:,} reads answered 500 and "
                    f"sent again"),
        ("failed jobs (steps tried again)", str(soak.failed_jobs)),
        ("duplicates", str(soak.duplicates)),
        ("misplaced nodes", str(soak.misplaced)),
        ("hard-rule breaks in recorded states", f"{soak.rule_breaks} (of {soak.states_checked} states)"),
        ("wall time", f"{soak.wall_seconds:g} s"),
        ("machine", soak.machine),
    ]
    return "\n".join(["| figure | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--pools", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-batch-size", type=int, default=1)
    parser.add_argument("--rate-5xx", type=float, default=0.05)
    parser.add_argument("--rate-lost-answer", type=float, default=0.02)
    parser.add_argument("--rate-failed-jobs", type=float, default=0.01)
    parser.add_argument("--job-seconds", type=float, default=0.1)
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs of the apply process (at most)")
    parser.add_argument("--kill-after", type=float, nargs=2, default=(2.0, 60.0), metavar=("MIN", "MAX"),
                        help="seconds after a launch a SIGKILL lands, drawn uniformly (a resume first re-reads "
                             "the whole inventory, 10-20 s at 10k nodes under these faults)")
    parser.add_argument("--max-launches", type=int, default=200)
    parser.add_argument("--max-parallel", type=int, default=4)
    parser.add_argument("--poll-interval", type=float, default=0.05)
    parser.add_argument("--keep", type=Path, default=None, help="keep the plan, journal and logs in this folder")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args(argv)
    soak = run(args)
    text = markdown(soak)
    print(text)
    for problem in soak.problems[:20]:
        print(f"problem: {problem}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({**asdict(soak), "ok": soak.ok}, indent=2) + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    return 0 if soak.ok else 1


if __name__ == "__main__":
    sys.exit(main())
