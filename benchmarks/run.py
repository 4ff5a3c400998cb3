"""Benchmark runner: poolshift end to end on generated instance families, against the reference planner and
the greedy and per-node baselines.

    python -m benchmarks.run --preset issue16 --json out.json --markdown out.md   # the whole issue-16 table
    python -m benchmarks.run --preset sweep --json out.json                       # unseen seeds, every setting
    python -m benchmarks.run [--families default,hard|all] [--sizes 1k,2k,10k,100k] [--seeds 1,2]
                             [--cross-cluster both|on|off] [--workers 1,2] [--reference COMMIT]
                             [--planner-from COMMIT]
                             [--baselines greedy,pernode] [--busy-nodes keep,drain]
                             [--whatif FAMILIES] [--profile FAMILIES] [--repeat N] [--json F] [--markdown F]

For every family, size, seed and cross-cluster setting the runner
1. generates the instance with `benchmarks.generate` into `--data-dir`, or reuses the files there when their
   meta file records the same generation parameters;
2. runs the real CLI as a child process, `poolshift plan --inventory X --spec Y -o plan.json --output json
   --workers N`, once per `--workers` value, and with `--reference COMMIT` the same command with the
   planner and solvers of that commit; with `--repeat N` these alternate N times (A B C A B C ...) so that
   drifting load hits all of them alike, and the median is reported;
3. runs each baseline in its own child process (`python -m benchmarks.baseline`): greedy at every size,
   per-node CP-SAT only up to `--pernode-max-nodes` (default 2000);
4. with `--busy-nodes keep,drain`, plans the busy families again with a `workloads:` spec (only for a
   planner that reads PRODUCT §9 workloads; others refuse the spec key, exit 2);
5. with `--profile FAMILIES` / `--whatif FAMILIES`, profiles one plan stage by stage (benchmarks/stages.py)
   and measures `poolshift whatif` with 7 scenarios (benchmarks/whatif.py) on the largest size, first seed.
It also measures the bare start-up cost, `poolshift --help`.

How wall time and peak memory are measured: benchmarks/measure.py. The acceptance checks of the issues
(benchmarks/checks.py) are printed after the table; `--strict` makes the runner exit 1 when one fails.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import measure as ms
from benchmarks import stages, whatif
from benchmarks.baseline import EXIT_MISSING_INTERFACE
from benchmarks.checks import Check, evaluate
from benchmarks.families import FAMILIES
from benchmarks.generate import BUSY_POLICIES
from benchmarks.instances import DEFAULT_DATA_DIR, Instance, Row, ensure_instance, parse_list, parse_size
from benchmarks.report import format_markdown, format_table, machine_info

REFERENCE_COMMIT = "aa80520"  # the planner before the performance issue (issue 16)
BUSY_FAMILIES = ("busy", "hard")
CROSSES = {"both": [True, False], "on": [True], "off": [False]}  # --cross-cluster -> the settings run
PRESETS_ARGS: dict[str, list[str]] = {
    "issue16": ["--families", "all", "--sizes", "10k,100k", "--seeds", "1,2", "--cross-cluster", "on",
                "--workers", "1,2", "--reference", REFERENCE_COMMIT, "--baselines", "greedy", "--repeat", "3",
                "--profile", "default,hard", "--whatif", "default"],
    # seeds nobody tuned on, with and without cross-cluster moves and under every busy policy: what to look at
    # is every plan's status and (D, M) against greedy's, not the times (benchmarks/RESULTS.md, session 24)
    "sweep": ["--families", "all", "--sizes", "10k", "--seeds", "3,4,5,6,7,8,9", "--cross-cluster", "both",
              "--workers", "1", "--baselines", "greedy", "--busy-nodes", "keep,drain,ignore", "--repeat", "1"],
}


@dataclass(frozen=True)
class PlanVariant:
    """One way of running `poolshift plan`: its row's method name, `--workers`, the code root (None: ours)."""

    method: str
    workers: int
    code: Path | None = None


def run_plans(inst: Instance, inventory: Path, spec: Path, out_dir: Path, timeout: float, repeat: int,
              variants: Sequence[PlanVariant]) -> list[Row]:
    """`poolshift plan` for every variant, alternating them `repeat` times; one row each (median wall time,
    largest peak). A variant that fails is not run again."""
    runs: dict[str, list[ms.Measured]] = {v.method: [] for v in variants}
    cmds: dict[str, list[str]] = {}
    for _ in range(repeat):
        for v in variants:
            if runs[v.method] and runs[v.method][-1].returncode != 0:
                continue
            plan = out_dir / f"plan-{v.method.replace(' ', '-')}.json"
            plan.unlink(missing_ok=True)
            cmds[v.method] = [ms.poolshift_executable(), "plan", "--inventory", str(inventory), "--spec", str(spec),
                              "-o", str(plan), "--output", "json", "--workers", str(v.workers)]
            stem = out_dir / f"plan-{v.method.replace(' ', '-')}"
            runs[v.method].append(ms.measure(cmds[v.method], stdout=stem.with_suffix(".stdout"),
                                             stderr=stem.with_suffix(".stderr"), timeout=timeout, code=v.code))
    return [_plan_row(inst, v, runs[v.method], cmds[v.method], out_dir) for v in variants]


def _plan_row(inst: Instance, v: PlanVariant, runs: list[ms.Measured], cmd: list[str], out_dir: Path) -> Row:
    stem = out_dir / f"plan-{v.method.replace(' ', '-')}"
    last = runs[-1]
    row = inst.row(v.method)
    row.wall_seconds = round(statistics.median(r.wall_seconds for r in runs), 3)
    row.peak_mib = ms.mib(max(r.peak_kib for r in runs))
    row.extra = {"command": cmd, "returncode": last.returncode, "peak_source": last.peak_source,
                 "wall_seconds_all": [round(r.wall_seconds, 3) for r in runs],
                 "code": str(v.code) if v.code else "current"}
    if last.timed_out:
        row.status = "TIMEOUT"
        return row
    if last.returncode != 0:
        row.status = f"EXIT {last.returncode}"
        row.extra["stderr"] = ms.tail(stem.with_suffix(".stderr"))
        return row
    try:
        summary = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))["summary"]
    except (OSError, ValueError, KeyError) as exc:
        row.status = "NO PLAN"
        row.extra["error"] = f"cannot read the plan summary: {exc}"
        return row
    row.status = str(summary.get("status", "?"))
    row.bound, row.deviation, row.moves = summary.get("bound"), summary.get("deviation_after"), summary.get("moves")
    row.extra["summary"] = summary
    return row


def run_baseline(method: str, inst: Instance, inventory: Path, spec: Path, out_dir: Path, timeout: float,
                 time_limit: float | None, workers: int | None) -> Row:
    """One baseline in a child process; its result file gives status, bound, deviation and moves."""
    result_path = out_dir / f"{method}.json"
    result_path.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "benchmarks.baseline", "--method", method, "--inventory", str(inventory),
           "--spec", str(spec), "--out", str(result_path)]
    if method == "pernode" and time_limit is not None:
        cmd += ["--time-limit", str(time_limit)]
    if method == "pernode" and workers is not None:
        cmd += ["--workers", str(workers)]
    measured = ms.measure(cmd, stdout=out_dir / f"{method}.stdout", stderr=out_dir / f"{method}.stderr",
                          timeout=timeout)
    row = inst.row(method)
    row.wall_seconds, row.peak_mib = round(measured.wall_seconds, 3), ms.mib(measured.peak_kib)
    row.extra = {"command": cmd, "returncode": measured.returncode, "peak_source": measured.peak_source}
    if measured.timed_out:
        row.status = "TIMEOUT"
        return row
    try:
        record = json.loads(result_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        row.status = "ERROR"
        row.extra["error"] = f"no result file ({exc}); stderr: {ms.tail(out_dir / f'{method}.stderr')}"
        return row
    row.status = "N/A" if measured.returncode == EXIT_MISSING_INTERFACE else str(record.get("status", "?"))
    row.bound, row.deviation, row.moves = record.get("bound"), record.get("deviation"), record.get("moves")
    row.extra.update({k: v for k, v in record.items() if k not in ("status", "bound", "deviation", "moves")})
    return row


def run_startup(out_dir: Path, repeat: int) -> Row:
    """The bare start-up cost: `poolshift --help`, median of `repeat` runs."""
    cmd = [ms.poolshift_executable(), "--help"]
    runs = [ms.measure(cmd, stdout=out_dir / "help.stdout", stderr=out_dir / "help.stderr", timeout=60)
            for _ in range(repeat)]
    ok = all(r.returncode == 0 for r in runs)
    return Row("startup", 0, 0, None, "poolshift --help", "OK" if ok else f"EXIT {runs[-1].returncode}",
               wall_seconds=round(statistics.median(r.wall_seconds for r in runs), 3),
               peak_mib=ms.mib(max(r.peak_kib for r in runs)),
               extra={"command": cmd, "peak_source": runs[-1].peak_source,
                      "wall_seconds_all": [round(r.wall_seconds, 3) for r in runs]}, family="-")


def run_whatif(inst: Instance, inventory: Path, spec: Path, out_dir: Path, repeat: int,
               timeout: float) -> dict[str, Any]:
    """`poolshift whatif` with the 7 scenarios of benchmarks/whatif.py, and the issue's budget from stage profiles
    of the same instance (`repeat` rounds, each a profile run and a whatif run)."""
    scenarios = whatif.write_scenarios(inventory, spec, out_dir / "scenarios.yaml")
    cmd = whatif.whatif_command(ms.poolshift_executable(), inventory, spec, scenarios)
    walls, peak, code, profiles = [], 0.0, 0, []
    for _ in range(repeat):  # timed without sampling the process tree's memory (whatif.tree_peak says why)
        profiles.append(whatif.profile_run(inventory, spec, env=ms.child_env(), cwd=ms.child_cwd()))
        m = ms.measure(cmd, stdout=out_dir / "whatif.stdout", stderr=out_dir / "whatif.stderr", timeout=timeout,
                       sample_tree=False)
        walls.append(m.wall_seconds)
        peak, code = max(peak, ms.mib(m.peak_kib)), m.returncode
        if m.returncode != 0:
            break
    if code == 0:
        peak = max(peak, whatif.tree_peak(cmd, out_dir))
    limits = whatif.budget_of(profiles)
    wall = round(statistics.median(walls), 3)
    return {"instance": inst.key, "command": cmd, "returncode": code, "wall": wall,
            "walls": [round(w, 3) for w in walls], "peak_mib": peak, **limits,
            "verdict": "PASS" if code == 0 and wall <= limits["budget"] else "FAIL"}


def whatif_markdown(results: Sequence[dict[str, Any]]) -> str:
    lines = ["#### `poolshift whatif`, 7 scenarios (budget: 1.2 × (load + 7 × solve))", "",
             "| instance | wall s | peak MiB | load s | solve s | budget s | verdict | lenient budget s |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['instance']} | {r['wall']} | {r['peak_mib']} | {r['load']} | {r['solve']} | {r['budget']} | "
              f"{r['verdict']} | {r['lenient_budget']} |" for r in results]
    return "\n".join(lines)


def profile_markdown(key: str, result: dict[str, Any]) -> str:
    return f"#### Stage profile of one `poolshift plan`, {key}\n\n{stages.format_profile(result)}"


# ------------------------------------------------------------------------------------------ main


def _parse_ints(text: str, what: str) -> list[int]:
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be comma-separated integers, not {text!r}") from None
    if not values or min(values) < 1 and what != "seeds":
        raise argparse.ArgumentTypeError(f"{what} must be at least 1")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run",
                                     description="poolshift benchmarks on generated instance families")
    parser.add_argument("--preset", choices=sorted(PRESETS_ARGS), default=None,
                        help="a named set of the options below; options given after it override it")
    parser.add_argument("--families", default="default", help=f"comma-separated, or all: {', '.join(FAMILIES)}")
    parser.add_argument("--sizes", default="1k,2k,10k,100k",
                        help="comma-separated presets (1k,2k,10k,100k) or NODES:POOLS[:CLUSTERS]")
    parser.add_argument("--seeds", default=None, help="comma-separated generator seeds (default: --seed)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cross-cluster", choices=tuple(CROSSES), default="both")
    parser.add_argument("--workers", default="1", help="comma-separated `poolshift plan --workers` values")
    parser.add_argument("--reference", default=None, metavar="COMMIT",
                        help=f"also plan with the planner of this commit (the issue's: {REFERENCE_COMMIT})")
    parser.add_argument("--planner-from", default=None, metavar="COMMIT",
                        help="measure planner/ of this commit with the work tree's solvers/ (e.g. a planner "
                             "that reads workloads, before the branches merge)")
    parser.add_argument("--baselines", default="greedy,pernode", help="comma-separated: greedy,pernode (or none)")
    parser.add_argument("--busy-nodes", default="none",
                        help="keep,drain: also plan the busy families with a workloads: spec (needs PRODUCT §9)")
    parser.add_argument("--profile", default="none", help="families whose largest instance gets a stage profile")
    parser.add_argument("--whatif", default="none", help="families whose largest instance gets a whatif run")
    parser.add_argument("--whatif-repeat", type=int, default=1,
                        help="whatif runs (each plans 7 scenarios; several minutes at 100k nodes)")
    parser.add_argument("--json", type=Path, default=None, help="write all results as JSON here")
    parser.add_argument("--markdown", type=Path, default=None, help="write a Markdown results section here")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--regenerate", action="store_true", help="generate the instances even if present")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each poolshift command (median reported)")
    parser.add_argument("--pernode-max-nodes", type=int, default=2_000)
    parser.add_argument("--pernode-time-limit", type=float, default=None,
                        help="per-node CP-SAT time limit in s (default: the solver's own default)")
    parser.add_argument("--pernode-workers", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=1_800.0, help="kill any child after this many s")
    parser.add_argument("--strict", action="store_true", help="exit 1 when an acceptance check fails")
    parser.add_argument("--no-code-snapshot", dest="code_snapshot", action="store_false",
                        help="import planner/solvers from the work tree instead of a frozen copy")
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The options, with a `--preset`'s options placed first so that explicit ones override them."""
    argv = list(argv)
    if "--preset" in argv:
        i = argv.index("--preset")
        if i + 1 < len(argv) and argv[i + 1] in PRESETS_ARGS:
            argv = PRESETS_ARGS[argv[i + 1]] + argv
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.size_list = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
        args.family_list = parse_list(args.families, list(FAMILIES), "family")
        args.baseline_list = parse_list(args.baselines, ("greedy", "pernode"), "baseline")
        args.busy_list = parse_list(args.busy_nodes, BUSY_POLICIES, "busy_nodes value")
        args.profile_list = parse_list(args.profile, list(FAMILIES), "family")
        args.whatif_list = parse_list(args.whatif, list(FAMILIES), "family")
        args.seed_list = _parse_ints(args.seeds, "seeds") if args.seeds else [args.seed]
        args.worker_list = _parse_ints(args.workers, "workers")
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.crosses = CROSSES[args.cross_cluster]
    return args


def instances(args: argparse.Namespace) -> list[Instance]:
    """Every instance of the run, the `workloads:` spec variants right after their plain instance."""
    out: list[Instance] = []
    for family in args.family_list:
        for size in args.size_list:
            for seed in args.seed_list:
                for cross in args.crosses:
                    out.append(Instance(family, size, seed, cross))
                    if family in BUSY_FAMILIES:
                        out += [Instance(family, size, seed, cross, busy) for busy in args.busy_list]
    return out


def _variants(args: argparse.Namespace, reference: Path | None) -> list[PlanVariant]:
    out = [PlanVariant("poolshift" if w == 1 else f"poolshift w{w}", w) for w in args.worker_list]
    if reference is not None:
        out.append(PlanVariant("reference", 1, reference))
    return out


def _freeze_code(args: argparse.Namespace, machine: dict[str, Any], log: Callable[[str], None]) -> str:
    """Take the code snapshot (unless --no-code-snapshot); returns the tree's fingerprint at the start."""
    if args.planner_from:
        ms.CODE_SNAPSHOT = ms.mixed_code(args.planner_from, Path(tempfile.gettempdir()) / "poolshift-benchmarks")
        machine["code"] = f"planner/ of commit {args.planner_from} with this tree's solvers/ ({ms.CODE_SNAPSHOT.name})"
        log(f"code: {machine['code']}")
        return ms.code_fingerprint(ms.REPO_ROOT)
    if not args.code_snapshot:
        fingerprint = ms.code_fingerprint(ms.REPO_ROOT)
        machine["code"] = f"work tree (planner/ + solvers/ fingerprint {fingerprint} at start)"
        return fingerprint
    # outside the work tree, so that no tool (mypy, an IDE, pytest) mistakes the copy for the project
    ms.CODE_SNAPSHOT, fingerprint = ms.snapshot_code(Path(tempfile.gettempdir()) / "poolshift-benchmarks")
    sources = ms.imported_from()
    if not all(Path(f).is_relative_to(ms.CODE_SNAPSHOT) for f in sources.values()) or len(sources) != 2:
        raise SystemExit(f"run: children do not import the code snapshot ({sources}); use --no-code-snapshot")
    machine["code"] = f"snapshot {ms.CODE_SNAPSHOT.name} of planner/ and solvers/"
    log(f"code: planner/ and solvers/ frozen as {ms.CODE_SNAPSHOT}")
    return fingerprint


def _plan_instances(args: argparse.Namespace, variants: list[PlanVariant], runs_dir: Path,
                    log: Callable[[str], None]) -> tuple[list[Row], dict[str, Any], dict[str, Instance]]:
    rows: list[Row] = []
    infos: dict[str, Any] = {}
    largest: dict[str, Instance] = {}
    for inst in instances(args):
        log(f"{inst.key}: {inst.size.nodes} nodes, {inst.size.pools} pools, {inst.size.clusters} clusters")
        inventory, spec, info = ensure_instance(inst.size, inst.seed, inst.cross, args.data_dir.resolve(),
                                                args.regenerate, log, inst.family, inst.busy_nodes)
        infos[inst.key] = {**info, "inventory": str(inventory), "spec": str(spec)}
        out_dir = runs_dir / inst.key
        out_dir.mkdir(parents=True, exist_ok=True)
        log(f"  poolshift plan: {', '.join(v.method for v in variants)} (x{args.repeat})")
        rows += run_plans(inst, inventory, spec, out_dir, args.timeout, args.repeat,
                          variants if not inst.busy_nodes else variants[:1])
        for method in args.baseline_list if not inst.busy_nodes else []:
            if method == "pernode" and inst.size.nodes > args.pernode_max_nodes:
                continue
            log(f"  baseline {method}")
            rows.append(run_baseline(method, inst, inventory, spec, out_dir, args.timeout, args.pernode_time_limit,
                                     args.pernode_workers))
        top = largest.get(inst.family)
        if not inst.busy_nodes and (top is None or inst.size.nodes > top.size.nodes):
            largest[inst.family] = inst
    return rows, infos, largest


def _extras(args: argparse.Namespace, largest: dict[str, Instance], infos: dict[str, Any], runs_dir: Path,
            log: Callable[[str], None]) -> tuple[dict[str, Any], list[str]]:
    """Stage profiles and whatif runs of the largest instance of the families asked for."""
    results: dict[str, Any] = {"profiles": {}, "whatif": []}
    blocks: list[str] = []
    for family in args.profile_list:
        inst = largest.get(family)
        if inst is None:
            continue
        log(f"{inst.key}: stage profile (x{args.repeat})")
        paths = infos[inst.key]
        prof = stages.profile(Path(paths["inventory"]), Path(paths["spec"]), args.repeat,
                                     env=ms.child_env(), cwd=ms.child_cwd())
        results["profiles"][inst.key] = prof
        blocks.append(profile_markdown(inst.key, prof))
    for family in args.whatif_list:
        inst = largest.get(family)
        if inst is None:
            continue
        log(f"{inst.key}: poolshift whatif, 7 scenarios")
        out_dir = runs_dir / inst.key / "whatif"
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = infos[inst.key]
        results["whatif"].append(run_whatif(inst, Path(paths["inventory"]), Path(paths["spec"]), out_dir,
                                            args.whatif_repeat, args.timeout))
    if results["whatif"]:
        blocks.append(whatif_markdown(results["whatif"]))
    return results, blocks


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    command = "python -m benchmarks.run " + " ".join(raw)
    machine = machine_info()
    runs_dir = args.data_dir.resolve() / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    fingerprint = _freeze_code(args, machine, log)
    reference = None
    if args.reference:
        reference = ms.reference_code(args.reference, Path(tempfile.gettempdir()) / "poolshift-benchmarks")
        machine["reference"] = f"planner/ and solvers/ of commit {args.reference} ({reference})"
        log(f"reference: {machine['reference']}")
    log("startup: poolshift --help")
    rows = [run_startup(runs_dir, args.repeat)]
    plan_rows, infos, largest = _plan_instances(args, _variants(args, reference), runs_dir, log)
    rows += plan_rows
    extras, blocks = _extras(args, largest, infos, runs_dir, log)
    checks: list[Check] = evaluate(rows)
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if not args.code_snapshot and ms.code_fingerprint(ms.REPO_ROOT) != fingerprint:
        machine["code"] += "; CHANGED DURING THE RUN: rows may mix code versions"
        log("warning: planner/ or solvers/ changed during the run; rows may mix code versions")
    print(format_table(rows))
    for c in checks:
        print(f"[{c.verdict}] {c.name} ({c.instance}): {c.detail}")
    for block in blocks:
        print("\n" + block)
    if args.json:
        document = {"machine": machine, "command": command, "instances": infos,
                    "measurement": {"wall": "perf_counter from spawn to reap of the child process",
                                    "peak": "ru_maxrss of the command's own process (GNU time %M, or the "
                                            "benchmarks/_spawn.py launcher), in MiB"},
                    "results": [dataclasses.asdict(r) for r in rows],
                    "checks": [dataclasses.asdict(c) for c in checks], **extras}
        args.json.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    if args.markdown:
        args.markdown.write_text(format_markdown(rows, checks, machine, command, blocks), encoding="utf-8")
        log(f"wrote {args.markdown}")
    if args.strict and any(c.verdict == "FAIL" for c in checks):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
