"""`poolshift whatif` with 7 scenarios on a generated instance, against the issue's budget.

    python -m benchmarks.whatif --inventory X --spec Y [--repeat 1] [--json out.json] [--tree A --tree B ...]
    python -m benchmarks.whatif --inventory X --spec Y --timeline [--save-plans]

The scenario file (`poolshift.scenarios/v1`) is derived from the instance, deterministically:

| scenario | change |
|---|---|
| baseline | none |
| targets-up | the 10 largest target pools without min/max want 20% more nodes |
| add-nodes | 40 nodes of its first flavor in each of the 4 largest pools of the roomiest subnet (200 more free |
| | addresses there, at most its totalIps) |
| remove-nodes | 20% of the first flavor's nodes removed from the 3 largest pools (none the spec pins) |
| free-ips | the 2 tightest subnets get 50 more free addresses (at most their totalIps) |
| lock-nodes | 200 nodes (every 100th, by name) locked |
| no-cross-cluster | `limits.allow_cross_cluster: false` |

The budget (performance issue): one load of the inventory plus 7 times one plan's solve time, plus 20%:
`1.2 × (load + 7 × solve)`, with `load` = reading the snapshot and the spec and deriving the inventory (what
whatif does once for all scenarios: stages `read snapshot`, `spec`, `inventory`) and `solve` the solve stage, both
medians of `benchmarks.stages` profiles of the same instance, one a round, alternating with the whatif runs (so
that the machine's drift moves budget and wall alike). The result also carries the lenient reading
(one start-up, one load, and 7 × everything a plan does after loading). The timed runs are not sampled for
memory (the sampling takes CPU from whatif's two processes); the peak comes from one more run that is
(`tree_peak`).

With several `--tree` folders (each a checkout of this project: its `planner` and `solvers` are imported from
there), the command runs `--repeat` rounds, tree by tree in each round (A B A B …, so a drift of the machine's
speed hits every tree alike), and the result gives each tree's median wall, the median of the rounds' ratios to
the first tree, and whether every tree gave the same comparison (the JSON but for each scenario's `seconds`); the
budget comes from a stage profile of the first tree.

`--timeline` runs whatif once in this process, as the command does (two at a time), and shows where the time
goes: the preparation, then each scenario's stages (`Plan.timings`), which process planned it and when.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from benchmarks import stages

SCENARIOS_FORMAT = "poolshift.scenarios/v1"


def scenario_file(snapshot: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """The 7 scenarios of the module docstring for this instance."""
    pools = {p["metadata"]["name"]: p for p in snapshot["pools"]
             if p["status"]["phase"] == "Running" and p["spec"]["type"] == "Dedicate"}
    display = {p["metadata"]["labels"].get("os.modelarts/name"): name for name, p in pools.items()}
    size = {name: len(snapshot["nodes"].get(name, [])) for name in pools}
    by_size = sorted(pools, key=lambda n: (-size[n], n))
    free = {s["networkId"]: s["totalIps"] - s["usedIps"] for net in snapshot["networks"] for s in net["subnets"]}
    total = {s["networkId"]: s["totalIps"] for net in snapshot["networks"] for s in net["subnets"]}
    subnet_of = {name: _subnet(pools[name], snapshot) for name in pools}

    wanted: dict[str, Any] = {}
    for key, entry in sorted(spec["pools"].items(), key=lambda kv: -size.get(display.get(kv[0], kv[0]), 0)):
        if "target" in entry and "min" not in entry and "max" not in entry and len(wanted) < 10:
            wanted[key] = {"target": round(entry["target"] * 1.2)}
    roomy = max((s for s in free if any(subnet_of[n] == s for n in pools)), key=lambda s: (free[s], s))
    in_roomy = [n for n in by_size if subnet_of[n] == roomy][:4]
    add = [{"pool": n, "flavor": pools[n]["spec"]["resources"][0]["flavor"], "count": 40} for n in in_roomy]
    pinned = set(spec.get("pin") or [])
    remove: list[Any] = []
    for name in by_size[:3]:
        flavor = pools[name]["spec"]["resources"][0]["flavor"]
        plain = sorted(node["metadata"]["name"] for node in snapshot["nodes"][name] if node["spec"]["flavor"] == flavor
                       and "os.modelarts.node/batch.uid" not in node["metadata"]["labels"])
        count = len(plain) // 5
        if count and pinned.isdisjoint(plain[:count]):  # whatif removes the plain nodes first, by name
            remove.append({"pool": name, "flavor": flavor, "count": count})
        elif count:  # by name, never a node the spec pins (its pin would name a node the scenario removed)
            remove += [node for node in plain if node not in pinned][:count]
    tight = sorted(free, key=lambda s: (free[s], s))[:2]
    names = sorted(node["metadata"]["name"] for items in snapshot["nodes"].values() for node in items)
    return {"format": SCENARIOS_FORMAT, "scenarios": [
        {"name": "baseline"},
        {"name": "targets-up", "spec": {"pools": wanted}},
        {"name": "add-nodes",
         "inventory": {"add_nodes": add, "set_free_ips": {roomy: min(free[roomy] + 200, total[roomy])}}},
        {"name": "remove-nodes", "inventory": {"remove_nodes": remove}},
        {"name": "free-ips", "inventory": {"set_free_ips": {s: min(free[s] + 50, total[s]) for s in tight}}},
        {"name": "lock-nodes", "inventory": {"lock_nodes": names[::100][:200]}},
        {"name": "no-cross-cluster", "spec": {"limits": {"allow_cross_cluster": False}}},
    ]}


def _subnet(pool: dict[str, Any], snapshot: dict[str, Any]) -> str | None:
    net = pool["spec"].get("network", {})
    if "subnetId" in net:
        return str(net["subnetId"])
    for network in snapshot["networks"]:
        if network["name"] == net.get("name") and len(network["subnets"]) == 1:
            return str(network["subnets"][0]["networkId"])
    return None


def write_scenarios(inventory: Path, spec: Path, out: Path) -> Path:
    """Derive the scenario file of an instance and write it to `out`."""
    snapshot = json.loads(inventory.read_text(encoding="utf-8"))
    spec_doc = yaml.safe_load(spec.read_text(encoding="utf-8"))
    out.write_text(yaml.safe_dump(scenario_file(snapshot, spec_doc), sort_keys=False), encoding="utf-8")
    return out


BUDGET_STAGES = ("imports", "read snapshot", "spec", "inventory", "solve", "total")


def profile_run(inventory: Path, spec: Path, env: dict[str, str] | None = None, cwd: Path | None = None
                ) -> dict[str, Any]:
    """One stage profile of a plan of the instance (a child process, `benchmarks.stages`): the budget's figures.
    The measurements alternate it with the whatif runs, round by round, so that the machine's drift (a third of
    the wall time within an hour here) moves the budget and the wall alike."""
    run: dict[str, Any] = stages.profile(inventory, spec, repeat=1, env=env, cwd=cwd)["runs"][0]
    return run


def budget_of(runs: Sequence[dict[str, Any]], scenarios: int = 7) -> dict[str, float]:
    """The issue's budget from the medians of several `profile_run`s."""
    return budget({"median": {s: statistics.median(float(r[s]) for r in runs) for s in BUDGET_STAGES}}, scenarios)


def budget(profile_result: dict[str, Any], scenarios: int = 7) -> dict[str, float]:
    """The issue's budget from a stage profile, and the lenient reading, in seconds."""
    med = profile_result["median"]
    load = med["read snapshot"] + med["spec"] + med["inventory"]
    after_load = med["total"] - med["imports"] - load
    return {"load": round(load, 3), "solve": round(med["solve"], 3),
            "budget": round(1.2 * (load + scenarios * med["solve"]), 3),
            "lenient_budget": round(1.2 * (med["imports"] + load + scenarios * after_load), 3)}


def whatif_command(poolshift: str, inventory: Path, spec: Path, scenarios: Path) -> list[str]:
    """The measured command (the CLI's defaults: two scenario processes at a time)."""
    return [poolshift, "whatif", "--inventory", str(inventory), "--spec", str(spec), "--scenarios",
            str(scenarios), "--output", "json"]


_TIMELINE: list[Any] = [None, 0.0]  # the file each planned scenario's line is appended to, and the run's start


def _timed_planner(snapshot: Any, spec: dict[str, Any], **kwargs: Any) -> Any:
    """make_plan, recording its stages, the process and its start and end (in a forked worker too)."""
    from planner.planning import make_plan

    start = time.perf_counter()
    plan = make_plan(snapshot, spec, **kwargs)
    line = {"pid": os.getpid(), "source": kwargs.get("snapshot_source"), "spec": kwargs.get("spec_source"),
            "start": start - _TIMELINE[1], "end": time.perf_counter() - _TIMELINE[1], "stages": plan.timings}
    with open(_TIMELINE[0], "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")
    return plan


def timeline(inventory: Path, spec: Path, scenarios: Path, *, keep_plans: bool = False) -> dict[str, Any]:
    """One whatif run in this process: the read and preparation times, then per scenario its stages, the process
    that planned it (`parent` or `worker`) and its start and end, in seconds since the run started."""
    from planner.planning import gc_paused
    from planner.review._io import load_yaml_mapping
    from planner.review.scenarios import load_scenarios
    from planner.review.whatif import prepare_jobs, run_jobs
    from planner.snapshot import read_snapshot_file

    with tempfile.TemporaryDirectory() as tmp:
        _TIMELINE[:] = [Path(tmp) / "timeline.jsonl", time.perf_counter()]
        with gc_paused():
            raw = read_snapshot_file(inventory)
            read = time.perf_counter() - _TIMELINE[1]
            jobs = prepare_jobs(load_scenarios(scenarios), raw, load_yaml_mapping(spec),
                                scenarios_source=str(scenarios), snapshot_source=str(inventory),
                                spec_source=str(spec), planner=_timed_planner, keep_plans=keep_plans)
        prepared = time.perf_counter() - _TIMELINE[1]
        outcomes = run_jobs(jobs)
        total = time.perf_counter() - _TIMELINE[1]
        lines = [json.loads(line) for line in _TIMELINE[0].read_text(encoding="utf-8").splitlines()]
    planned = {(line["source"], line["spec"]): line for line in lines}
    rows = []
    for job, outcome in zip(jobs, outcomes, strict=True):
        line = planned[(job.snapshot_source, job.spec_source)]
        rows.append({"scenario": job.scenario, "by": "parent" if line["pid"] == os.getpid() else "worker",
                     "start": round(line["start"], 2), "end": round(line["end"], 2),
                     **{k: round(v, 3) for k, v in line["stages"].items()}, "status": outcome.status,
                     "deviation": outcome.deviation_after, "moves": outcome.moves})
    return {"read": round(read, 2), "prepared": round(prepared, 2), "total": round(total, 2), "scenarios": rows}


def format_timeline(result: dict[str, Any]) -> str:
    """The timeline as a Markdown table, scenarios by start."""
    stages = ("inventory", "problem", "solve", "order", "fingerprint", "document", "verify")
    lines = [f"read {result['read']} s, prepared {result['prepared']} s, done {result['total']} s", "",
             "| scenario | by | start | end | " + " | ".join(stages) + " |", "|---|---|" + "---:|" * (2 + len(stages))]
    for row in sorted(result["scenarios"], key=lambda r: r["start"]):
        cells = [row["scenario"], row["by"], row["start"], row["end"], *(row.get(s, 0.0) for s in stages)]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks import measure as ms  # the runner's child measurement (wall time and peak RSS)

    parser = argparse.ArgumentParser(prog="python -m benchmarks.whatif", description=__doc__.split("\n")[0])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out-dir", type=Path, default=Path("benchmarks/data/runs/whatif"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--tree", type=Path, action="append", default=[],
                        help="a checkout of this project to measure; repeat it to compare trees side by side")
    parser.add_argument("--timeline", action="store_true", help="one run in this process, scenario by scenario")
    parser.add_argument("--save-plans", action="store_true", help="with --timeline: keep the plans, as --save-plans")
    args = parser.parse_args(argv)
    args.out_dir = args.out_dir.resolve()  # (a --tree run starts in that tree: a relative path would point there)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    scenarios = write_scenarios(args.inventory, args.spec, args.out_dir / "scenarios.yaml")
    if args.timeline:
        print(format_timeline(timeline(args.inventory, args.spec, scenarios, keep_plans=args.save_plans)))
        return 0
    cmd = whatif_command(ms.poolshift_executable(), args.inventory.resolve(), args.spec.resolve(), scenarios)
    trees = [t.resolve() for t in args.tree] or [None]
    runs: dict[str, list[dict[str, Any]]] = {str(t): [] for t in trees}
    profiles: list[dict[str, Any]] = []
    for _ in range(args.repeat):
        profiles.append(profile_run(args.inventory.resolve(), args.spec.resolve(), cwd=trees[0]))
        for tree in trees:
            out = args.out_dir / "whatif.stdout"
            m = ms.measure(cmd, stdout=out, stderr=args.out_dir / "whatif.stderr", timeout=1800, code=tree,
                           sample_tree=False)
            if m.returncode != 0:
                print(f"whatif exited {m.returncode}: {ms.tail(args.out_dir / 'whatif.stderr')}", file=sys.stderr)
                return 1
            runs[str(tree)].append({"wall": m.wall_seconds, "peak_mib": ms.mib(m.peak_kib),
                                    "outcome": comparison_outcome(out.read_text(encoding="utf-8"))})
    peaks = {str(tree): tree_peak(cmd, args.out_dir, tree) for tree in trees}
    limits = budget_of(profiles)
    result = {**_tree_result(runs[str(trees[0])], peaks[str(trees[0])]), **limits}
    if len(trees) > 1:
        first = [r["wall"] for r in runs[str(trees[0])]]
        result["trees"] = {tree: {**_tree_result(rs, peaks[tree]), "ratio": round(statistics.median(
            r["wall"] / f for r, f in zip(rs, first, strict=True)), 3)} for tree, rs in runs.items()}
        outcomes = {json.dumps(r["outcome"], sort_keys=True) for rs in runs.values() for r in rs}
        result["same_outcomes"] = len(outcomes) == 1
    print(json.dumps(result, sort_keys=True))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


def comparison_outcome(stdout: str) -> dict[str, Any]:
    """`whatif --output json` without what may differ from run to run: each scenario's `seconds`."""
    doc: dict[str, Any] = json.loads(stdout)
    for scenario in doc["scenarios"]:
        scenario.pop("seconds", None)
    return doc


def tree_peak(cmd: Sequence[str], out_dir: Path, code: Path | None = None) -> float:
    """The peak (MiB) of one more whatif run, its process tree's PSS sampled (benchmarks/measure.py). The timed runs
    are not sampled: on 2 cores the sampling takes CPU from the command's two processes (whatif at 100k: 8.32 s
    sampled against 7.05 s not, medians of 4 alternating, session 26). This run's wall time is not used."""
    from benchmarks import measure as ms

    m = ms.measure(cmd, stdout=out_dir / "whatif-peak.stdout", stderr=out_dir / "whatif-peak.stderr", timeout=1800,
                   code=code, sample_tree=True)
    if m.returncode != 0:
        raise RuntimeError(f"whatif exited {m.returncode}: {ms.tail(out_dir / 'whatif-peak.stderr')}")
    return ms.mib(m.peak_kib)


def _tree_result(runs: Sequence[dict[str, Any]], sampled_peak: float) -> dict[str, Any]:
    walls = [r["wall"] for r in runs]
    return {"wall": round(statistics.median(walls), 3), "walls": [round(w, 3) for w in walls],
            "peak_mib": round(max(sampled_peak, *(r["peak_mib"] for r in runs)), 1)}


if __name__ == "__main__":
    sys.exit(main())
