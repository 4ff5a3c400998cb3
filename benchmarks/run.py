"""Benchmark runner: poolshift end to end against the greedy and per-node baselines, on generated instances.

    python -m benchmarks.run [--sizes 1k,2k,10k,100k] [--cross-cluster both|on|off]
                             [--baselines greedy,pernode] [--json out.json] [--markdown out.md]

For every size (and cross-cluster setting) the runner
1. generates the instance with `benchmarks.generate` into `--data-dir`, or reuses the files there when their
   meta file records the same generation parameters;
2. runs the real CLI as a child process, `poolshift plan --inventory X --spec Y -o plan.json --output json`,
   and reads status, bound, deviation and moves from the plan file's `summary`;
3. runs each baseline in its own child process (`python -m benchmarks.baseline`): greedy at every size,
   per-node CP-SAT only up to `--pernode-max-nodes` (default 2000).
It also measures the bare start-up cost, `poolshift --help`, in the same run.

Measurements (documented in benchmarks/README.md):
- wall time: `time.perf_counter()` from just before the child is spawned until it has been reaped, so it
  includes interpreter start-up, imports, reading the files and writing the plan;
- peak memory: the command's own `ru_maxrss` (Linux: KiB, the high-water RSS of that process), reported by
  GNU time (`/usr/bin/time -f %M`) or, without it, by the tiny `benchmarks/_spawn.py` launcher. Not our
  own `os.wait4()` figure nor a RUSAGE_CHILDREN delta: a child forked from the runner starts with the
  runner's resident pages and Linux keeps that high-water mark across exec, and RUSAGE_CHILDREN is a
  maximum over all children ever reaped.

The issue's acceptance checks are evaluated on the results and printed after the table (`--strict` makes
the runner exit 1 when one fails).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from benchmarks import generate as gen
from benchmarks.baseline import EXIT_MISSING_INTERFACE

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / "benchmarks" / "data"
SPAWN_SCRIPT = REPO_ROOT / "benchmarks" / "_spawn.py"
CODE_PACKAGES = ("planner", "solvers")
SECRET_ENV = ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN",
              "HUAWEICLOUD_SDK_PROJECT_ID", "POOLSHIFT_TOKEN")


@dataclass(frozen=True)
class Size:
    """One benchmark instance size."""

    label: str
    nodes: int
    pools: int
    clusters: int


# Presets: 10k/200 and 100k/1000 are the reference points; 1k and 2k keep about 25-35 nodes per pool.
PRESETS: dict[str, Size] = {
    "1k": Size("1k", 1_000, 40, 8),
    "2k": Size("2k", 2_000, 60, 12),
    "10k": Size("10k", 10_000, 200, 25),
    "100k": Size("100k", 100_000, 1_000, 25),
}


def parse_size(text: str) -> Size:
    """A preset name (`10k`) or `NODES:POOLS[:CLUSTERS]` (`5000:100:10`)."""
    text = text.strip()
    if text in PRESETS:
        return PRESETS[text]
    match = re.fullmatch(r"(\d+):(\d+)(?::(\d+))?", text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"unknown size {text!r}: use one of {', '.join(PRESETS)} or NODES:POOLS[:CLUSTERS]")
    nodes, pools = int(match[1]), int(match[2])
    clusters = int(match[3]) if match[3] else min(25, max(1, pools // 5))
    return Size(gen.size_label(nodes), nodes, pools, clusters)


@dataclass
class Measured:
    """What the runner saw of one child process."""

    returncode: int
    wall_seconds: float
    peak_kib: int
    timed_out: bool
    peak_source: str = ""


# Where the children import planner/ and solvers/ from (a frozen copy, see snapshot_code); None: the tree.
CODE_SNAPSHOT: Path | None = None


def child_env() -> dict[str, str]:
    """The environment of every child: ours without credentials (planning from files needs none), with the
    code snapshot (when taken) ahead of the work tree on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    paths = [str(CODE_SNAPSHOT)] if CODE_SNAPSHOT else []
    paths += [str(REPO_ROOT), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def child_cwd() -> Path:
    """The children's working directory: `python -m`/`-c` put it first on sys.path, so with a code snapshot
    it must be the snapshot, not the work tree (all paths passed to children are absolute)."""
    return CODE_SNAPSHOT or REPO_ROOT


def code_fingerprint(root: Path) -> str:
    """sha256 (12 hex digits) over the paths and contents of planner/ and solvers/ under root."""
    digest = hashlib.sha256()
    for package in CODE_PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def snapshot_code(dest_root: Path) -> tuple[Path, str]:
    """Freeze planner/ and solvers/ into dest_root/code-<fingerprint>/ (byte-compiled) for the children.

    Other engineers edit the shared work tree while a long run goes on; with the editable install every
    child would otherwise import whatever the tree holds at that moment, mixing code versions in one table.
    """
    for _attempt in range(3):
        fingerprint = code_fingerprint(REPO_ROOT)
        dest = dest_root / f"code-{fingerprint}"
        if (dest / ".complete").exists():
            return dest, fingerprint
        staging = dest.with_name(f"{dest.name}.partial-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        for package in CODE_PACKAGES:
            shutil.copytree(REPO_ROOT / package, staging / package,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if code_fingerprint(staging) != fingerprint:  # the tree changed while we copied: try again
            continue
        compileall.compile_dir(staging, quiet=1)
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)
        (dest / ".complete").touch()
        return dest, fingerprint
    raise SystemExit("run: planner/ and solvers/ keep changing; cannot take a consistent code snapshot")


def imported_from() -> dict[str, str]:
    """Where a child process imports planner and solvers from (to prove the snapshot is used)."""
    code = "import planner, solvers; print(planner.__file__); print(solvers.__file__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=child_cwd(), env=child_env(), check=False)
    lines = done.stdout.split()
    return dict(zip(CODE_PACKAGES, lines, strict=False))


@functools.cache
def gnu_time() -> str | None:
    """Path of GNU time (`/usr/bin/time`), when installed."""
    path = shutil.which("time", path="/usr/bin:/bin:/usr/local/bin")
    if not path:
        return None
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return path if "GNU" in done.stdout + done.stderr else None


def _peak_wrapper(rss_file: Path) -> tuple[list[str], str]:
    """The command prefix that records the child's own peak RSS in rss_file, and its name for the JSON."""
    time_bin = gnu_time()
    if time_bin:
        return [time_bin, "-f", "%M", "-o", str(rss_file), "--"], "GNU time %M"
    return [sys.executable, "-S", "-E", str(SPAWN_SCRIPT), str(rss_file), "--"], "benchmarks/_spawn.py wait4"


def _read_peak(rss_file: Path) -> int | None:
    try:
        lines = rss_file.read_text(encoding="utf-8").split()
        return int(lines[-1])
    except (OSError, ValueError, IndexError):
        return None


def measure(cmd: Sequence[str], *, stdout: Path, stderr: Path, timeout: float) -> Measured:
    """Run cmd to completion: wall time from spawn to reap, peak RSS of cmd's own process.

    The peak comes from GNU time's %M (or the `_spawn.py` launcher): the `ru_maxrss` of the command,
    forked from a small process. Not from our own `os.wait4`: a child forked from the runner starts with
    the runner's resident pages, and Linux keeps that high-water mark across exec.
    """
    rss_file = stdout.with_suffix(".maxrss")
    rss_file.unlink(missing_ok=True)
    prefix, source = _peak_wrapper(rss_file)
    with stdout.open("wb") as out, stderr.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([*prefix, *cmd], stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                cwd=child_cwd(), env=child_env(), start_new_session=True)
        timed_out = threading.Event()

        def _kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the wrapper and the command under it

        watchdog = threading.Timer(timeout, _kill)
        watchdog.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C: the child is in its own session, so stop it here
            _kill()
            raise
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak = _read_peak(rss_file)
    if peak is None:  # the wrapper could not say: fall back to its own figure, an upper bound
        peak, source = int(usage.ru_maxrss), "wrapper wait4 (upper bound)"
    return Measured(proc.returncode, wall, peak, timed_out.is_set(), source)


@dataclass
class Row:
    """One line of the results table (and one record of the JSON)."""

    name: str
    nodes: int
    pools: int
    cross_cluster: bool | None
    method: str
    status: str
    bound: int | None = None
    deviation: int | None = None
    moves: int | None = None
    wall_seconds: float | None = None
    peak_mib: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def poolshift_executable() -> str:
    """The `poolshift` console script of this interpreter's environment (else the one on PATH)."""
    sibling = Path(sys.executable).with_name("poolshift")
    if sibling.exists():
        return str(sibling)
    found = shutil.which("poolshift")
    if not found:
        raise SystemExit("run: the `poolshift` console script is not installed (pip install -e '.[test]')")
    return found


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def _mib(kib: int) -> float:
    return round(kib / 1024.0, 1)


def ensure_instance(size: Size, seed: int, cross_cluster: bool, data_dir: Path, regenerate: bool,
                    log: Any) -> tuple[Path, Path, dict[str, Any]]:
    """Paths of the instance's inventory and spec, generating them unless matching files exist."""
    params: dict[str, Any] = {"nodes": size.nodes, "pools": size.pools, "flavors": 20, "clusters": size.clusters,
              "seed": seed, "cross_cluster": cross_cluster}
    inventory, spec, meta = gen.instance_paths(data_dir, size.nodes, cross_cluster)
    info: dict[str, Any] = {"params": params, "generated": False}
    if not regenerate and gen.meta_matches(meta, params) and inventory.exists() and spec.exists():
        return inventory, spec, info
    if not regenerate and gen.meta_matches(meta, params) and inventory.exists():
        # the inventory is there; only this cross-cluster variant of the spec is missing
        other = gen.instance_paths(data_dir, size.nodes, not cross_cluster)[1]
        if other.exists():
            spec_doc = yaml.safe_load(other.read_text(encoding="utf-8"))
            spec_doc["limits"]["allow_cross_cluster"] = cross_cluster
            text = yaml.dump(spec_doc, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False)
            spec.write_text(text, encoding="utf-8")
            return inventory, spec, info
    started = time.perf_counter()
    snapshot, spec_doc = gen.generate(**params)
    built = time.perf_counter()
    gen.write_instance(snapshot, spec_doc, data_dir, params)
    written = time.perf_counter()
    info.update(generated=True, generate_seconds=round(built - started, 3),
                write_seconds=round(written - built, 3), describe=gen.describe(snapshot, spec_doc))
    log(f"  generated {inventory.name} + {spec.name} in {built - started:.2f} s "
        f"(+{written - built:.2f} s to write)")
    return inventory, spec, info


def run_cli(size: Size, cross: bool, inventory: Path, spec: Path, out_dir: Path, timeout: float,
            repeat: int) -> Row:
    """`poolshift plan` end to end; the median wall time of `repeat` runs, the largest peak RSS."""
    plan = out_dir / "plan.json"
    cmd = [poolshift_executable(), "plan", "--inventory", str(inventory), "--spec", str(spec),
           "-o", str(plan), "--output", "json"]
    runs: list[Measured] = []
    for _ in range(repeat):
        plan.unlink(missing_ok=True)
        runs.append(measure(cmd, stdout=out_dir / "plan.stdout", stderr=out_dir / "plan.stderr",
                            timeout=timeout))
        if runs[-1].returncode != 0:
            break
    last = runs[-1]
    row = Row(size.label, size.nodes, size.pools, cross, "poolshift", "?",
              wall_seconds=round(statistics.median(r.wall_seconds for r in runs), 3),
              peak_mib=_mib(max(r.peak_kib for r in runs)))
    row.extra = {"command": cmd, "returncode": last.returncode, "peak_source": last.peak_source,
                 "wall_seconds_all": [round(r.wall_seconds, 3) for r in runs]}
    if last.timed_out:
        row.status = "TIMEOUT"
        return row
    if last.returncode != 0:
        row.status = f"EXIT {last.returncode}"
        row.extra["stderr"] = _tail(out_dir / "plan.stderr")
        return row
    try:
        summary = json.loads(plan.read_text(encoding="utf-8"))["summary"]
    except (OSError, ValueError, KeyError) as exc:
        row.status = "NO PLAN"
        row.extra["error"] = f"cannot read summary from {plan}: {exc}"
        return row
    row.status = str(summary.get("status", "?"))
    row.bound = summary.get("bound")
    row.deviation = summary.get("deviation_after")
    row.moves = summary.get("moves")
    row.extra["summary"] = summary
    return row


def run_baseline(method: str, size: Size, cross: bool, inventory: Path, spec: Path, out_dir: Path,
                 timeout: float, time_limit: float | None, workers: int | None) -> Row:
    """One baseline in a child process; its result file gives status, bound, deviation and moves."""
    result_path = out_dir / f"{method}.json"
    result_path.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "benchmarks.baseline", "--method", method, "--inventory", str(inventory),
           "--spec", str(spec), "--out", str(result_path)]
    if method == "pernode" and time_limit is not None:
        cmd += ["--time-limit", str(time_limit)]
    if method == "pernode" and workers is not None:
        cmd += ["--workers", str(workers)]
    measured = measure(cmd, stdout=out_dir / f"{method}.stdout", stderr=out_dir / f"{method}.stderr",
                       timeout=timeout)
    row = Row(size.label, size.nodes, size.pools, cross, method, "?",
              wall_seconds=round(measured.wall_seconds, 3), peak_mib=_mib(measured.peak_kib))
    row.extra = {"command": cmd, "returncode": measured.returncode, "peak_source": measured.peak_source}
    if measured.timed_out:
        row.status = "TIMEOUT"
        return row
    try:
        record = json.loads(result_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        row.status = "ERROR"
        row.extra["error"] = f"no result file ({exc}); stderr: {_tail(out_dir / f'{method}.stderr')}"
        return row
    row.status = str(record.get("status", "?"))
    if measured.returncode == EXIT_MISSING_INTERFACE:
        row.status = "N/A"
    row.bound, row.deviation, row.moves = record.get("bound"), record.get("deviation"), record.get("moves")
    row.extra.update({k: v for k, v in record.items() if k not in ("status", "bound", "deviation", "moves")})
    return row


def run_startup(out_dir: Path, repeat: int) -> Row:
    """The bare start-up cost: `poolshift --help`, median of `repeat` runs."""
    cmd = [poolshift_executable(), "--help"]
    runs = [measure(cmd, stdout=out_dir / "help.stdout", stderr=out_dir / "help.stderr", timeout=60)
            for _ in range(repeat)]
    ok = all(r.returncode == 0 for r in runs)
    return Row("startup", 0, 0, None, "poolshift --help", "OK" if ok else f"EXIT {runs[-1].returncode}",
               wall_seconds=round(statistics.median(r.wall_seconds for r in runs), 3),
               peak_mib=_mib(max(r.peak_kib for r in runs)),
               extra={"command": cmd, "peak_source": runs[-1].peak_source,
                      "wall_seconds_all": [round(r.wall_seconds, 3) for r in runs]})


# ------------------------------------------------------------------------------------------ checks


@dataclass
class Check:
    """One acceptance criterion of the issue, evaluated on one instance."""

    name: str
    instance: str
    verdict: str  # PASS | FAIL | N/A
    detail: str


def _placement_moves(row: Row) -> int | None:
    """Moves of the final placement: the plan's moves without staging hops (what the baselines report)."""
    if row.moves is None:
        return None
    staging = row.extra.get("summary", {}).get("staging_moves") or 0
    return int(row.moves) - int(staging)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _pernode_checks(ps: Row, pn: Row, inst: str) -> list[Check]:
    """Speed-up over the per-node baseline with the same (D, M): end to end, and solver time alone.

    End to end both sides pay interpreter start-up and loading (about 0.5 s here), so that ratio is capped
    by how long the per-node solve takes; the solver-only ratio compares `summary.solve_seconds` of the plan
    with the baseline's own solver seconds.
    """
    e2e, solver = ">= 100x faster than per-node end to end, same D and M", ">= 100x faster than per-node solver"
    if pn.deviation is None or ps.deviation is None or not pn.wall_seconds or not ps.wall_seconds:
        detail = f"poolshift {ps.status}, per-node {pn.status}"
        return [Check(e2e, inst, "N/A", detail), Check(solver, inst, "N/A", detail)]
    same = (ps.deviation, _placement_moves(ps)) == (pn.deviation, pn.moves)
    note = "" if pn.status == "OPTIMAL" else f" (per-node status {pn.status}: its D/M are not proven optimal)"
    same_text = f"D {ps.deviation} vs {pn.deviation}, M {_placement_moves(ps)} vs {pn.moves}{note}"
    speedup = pn.wall_seconds / ps.wall_seconds
    out = [Check(e2e, inst, _verdict(speedup >= 100.0 and same),
                 f"{pn.wall_seconds} s / {ps.wall_seconds} s = {speedup:.1f}x; {same_text}")]
    mine = ps.extra.get("summary", {}).get("solve_seconds")
    theirs = pn.extra.get("solver_seconds")
    if not mine or theirs is None:
        out.append(Check(solver, inst, "N/A", "solver seconds not reported"))
    else:
        ratio = float(theirs) / float(mine)
        out.append(Check(solver, inst, _verdict(ratio >= 100.0 and same),
                         f"{float(theirs):.3f} s / {float(mine):.3f} s = {ratio:.1f}x; {same_text}"))
    return out


def evaluate(rows: list[Row]) -> list[Check]:
    """The issue's "done when" criteria, for every instance that has the rows they need."""
    checks: list[Check] = []
    groups: dict[tuple[str, bool | None], dict[str, Row]] = {}
    for row in rows:
        if row.cross_cluster is not None:
            groups.setdefault((row.name, row.cross_cluster), {})[row.method] = row
    for (name, cross), by in groups.items():
        ps = by.get("poolshift")
        if ps is None:
            continue
        inst = f"{name} cross={'on' if cross else 'off'}"
        wall = ps.wall_seconds if ps.wall_seconds is not None else float("inf")
        peak = ps.peak_mib if ps.peak_mib is not None else float("inf")
        if (ps.nodes, ps.pools) == (10_000, 200):
            ok = ps.status == "OPTIMAL" and wall <= 1.0
            checks.append(Check("10k/200: OPTIMAL in <= 1.0 s", inst, _verdict(ok),
                                f"status {ps.status}, wall {ps.wall_seconds} s"))
        if (ps.nodes, ps.pools) == (100_000, 1_000):
            ok = ps.status == "OPTIMAL" and wall <= 10.0 and peak <= 1024.0
            checks.append(Check("100k/1000: OPTIMAL in <= 10 s, peak <= 1 GiB", inst, _verdict(ok),
                                f"status {ps.status}, wall {ps.wall_seconds} s, peak {ps.peak_mib} MiB"))
        pn = by.get("pernode")
        if pn is not None:
            checks += _pernode_checks(ps, pn, inst)
        gr = by.get("greedy")
        if gr is not None:
            if gr.deviation is None or gr.moves is None or ps.deviation is None or ps.moves is None:
                checks.append(Check("(D, M) never worse than greedy", inst, "N/A",
                                    f"poolshift {ps.status}, greedy {gr.status}"))
            else:
                mine = (int(ps.deviation), _placement_moves(ps) or 0)
                theirs = (int(gr.deviation), int(gr.moves))
                checks.append(Check("(D, M) never worse than greedy", inst, _verdict(mine <= theirs),
                                    f"poolshift (D, M) = {mine}, greedy {theirs} (lexicographic)"))
    return checks


# ------------------------------------------------------------------------------------------ output

COLUMNS = ("name", "nodes", "pools", "cross-cluster", "method", "status", "bound", "deviation", "moves",
           "wall s", "peak MiB")


def _cells(row: Row) -> list[str]:
    def show(value: Any) -> str:
        return "-" if value is None else str(value)

    cross = "-" if row.cross_cluster is None else ("on" if row.cross_cluster else "off")
    wall = "-" if row.wall_seconds is None else f"{row.wall_seconds:.3f}"
    peak = "-" if row.peak_mib is None else f"{row.peak_mib:.1f}"
    return [row.name, show(row.nodes or None), show(row.pools or None), cross, row.method, row.status,
            show(row.bound), show(row.deviation), show(row.moves), wall, peak]


def format_table(rows: list[Row]) -> str:
    """A plain-text table, columns padded to width."""
    cells = [list(COLUMNS)] + [_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(rows: list[Row], checks: list[Check], machine: dict[str, Any], command: str) -> str:
    """The results as a Markdown section for benchmarks/RESULTS.md."""
    out = [f"### Run of {machine['date']}", "",
           f"- machine: {machine['cpu_model']}, {machine['cpus']} CPUs, {machine['memory_gib']} GiB RAM, "
           f"{machine['os']}",
           f"- Python {machine['python']}, OR-Tools {machine['ortools']}, poolshift {machine['poolshift']}, "
           f"commit {machine['git_commit']}",
           f"- code measured: {machine.get('code', 'work tree')}",
           f"- load average (1, 5, 15 min) at start {machine.get('load_average_at_start')}, "
           f"at end {machine.get('load_average_at_end')}",
           f"- command: `{command}`", "",
           "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    if checks:
        out += ["", "| check | instance | verdict | detail |", "|---|---|---|---|"]
        out += [f"| {c.name} | {c.instance} | {c.verdict} | {c.detail} |" for c in checks]
    return "\n".join(out) + "\n"


def _run_text(cmd: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(cmd), capture_output=True, text=True, timeout=30, cwd=REPO_ROOT,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def machine_info() -> dict[str, Any]:
    """CPU model and count, RAM, OS, Python, OR-Tools and poolshift versions, git commit."""
    cpu_model = ""
    for line in _run_text(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            cpu_model = line.split(":", 1)[1].strip()
    memory_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    except OSError:
        pass

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    commit = _run_text(["git", "rev-parse", "--short", "HEAD"])
    # the measured code is planner/ and solvers/: any change there that is not committed (untracked included)
    dirty = bool(_run_text(["git", "status", "--porcelain", "--", "planner", "solvers", "pyproject.toml"]))
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu_model": cpu_model or platform.processor() or "unknown",
        "cpus": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "ortools": version("ortools"),
        "poolshift": version("poolshift"),
        "git_commit": commit + (" + uncommitted changes in planner/ or solvers/" if dirty else ""),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# ------------------------------------------------------------------------------------------ main


def _parse_list(text: str, allowed: Sequence[str], what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip() and t.strip() != "none"]
    bad = [t for t in items if t not in allowed]
    if bad:
        raise argparse.ArgumentTypeError(
            f"unknown {what}: {', '.join(bad)} (choose from {', '.join(allowed)})")
    return items


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="poolshift benchmarks against the greedy and per-node baselines")
    parser.add_argument("--sizes", default="1k,2k,10k,100k",
                        help="comma-separated presets (1k,2k,10k,100k) or NODES:POOLS[:CLUSTERS]")
    parser.add_argument("--cross-cluster", choices=("both", "on", "off"), default="both")
    parser.add_argument("--baselines", default="greedy,pernode",
                        help="comma-separated: greedy,pernode (or none)")
    parser.add_argument("--json", type=Path, default=None, help="write all results as JSON here")
    parser.add_argument("--markdown", type=Path, default=None, help="write a Markdown results section here")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--regenerate", action="store_true", help="generate the instances even if present")
    parser.add_argument("--repeat", type=int, default=1,
                        help="poolshift plan / --help runs per instance (median wall time reported)")
    parser.add_argument("--pernode-max-nodes", type=int, default=2_000)
    parser.add_argument("--pernode-time-limit", type=float, default=None,
                        help="per-node CP-SAT time limit in s (default: the solver's own default)")
    parser.add_argument("--pernode-workers", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=1_800.0, help="kill any child after this many s")
    parser.add_argument("--strict", action="store_true", help="exit 1 when an acceptance check fails")
    parser.add_argument("--no-code-snapshot", dest="code_snapshot", action="store_false",
                        help="import planner/solvers from the work tree instead of a frozen copy")
    args = parser.parse_args(argv)
    try:
        sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
        baselines = _parse_list(args.baselines, ("greedy", "pernode"), "baseline")
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    crosses = {"both": [True, False], "on": [True], "off": [False]}[args.cross_cluster]
    data_dir: Path = args.data_dir.resolve()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    command = "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv)
    machine = machine_info()
    runs_dir = data_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    global CODE_SNAPSHOT
    if args.code_snapshot:
        # outside the work tree, so that no tool (mypy, an IDE, pytest) mistakes the copy for the project
        CODE_SNAPSHOT, fingerprint = snapshot_code(Path(tempfile.gettempdir()) / "poolshift-benchmarks")
        sources = imported_from()
        if not all(Path(f).is_relative_to(CODE_SNAPSHOT) for f in sources.values()) or len(sources) != 2:
            raise SystemExit(f"run: children do not import the code snapshot ({sources}); use --no-code-snapshot")
        machine["code"] = f"snapshot {CODE_SNAPSHOT.name} of planner/ and solvers/"
        log(f"code: planner/ and solvers/ frozen as {CODE_SNAPSHOT}")
    else:
        fingerprint = code_fingerprint(REPO_ROOT)
        machine["code"] = f"work tree (planner/ + solvers/ fingerprint {fingerprint} at start)"
    rows: list[Row] = []
    instances: dict[str, Any] = {}

    log("startup: poolshift --help")
    rows.append(run_startup(runs_dir, args.repeat))
    for size in sizes:
        for cross in crosses:
            key = f"{size.label}-{'cross' if cross else 'nocross'}"
            log(f"{key}: {size.nodes} nodes, {size.pools} pools, {size.clusters} clusters")
            inventory, spec, info = ensure_instance(size, args.seed, cross, data_dir, args.regenerate, log)
            instances[key] = {**info, "inventory": str(inventory), "spec": str(spec)}
            out_dir = runs_dir / key
            out_dir.mkdir(parents=True, exist_ok=True)
            log("  poolshift plan")
            rows.append(run_cli(size, cross, inventory, spec, out_dir, args.timeout, args.repeat))
            for method in baselines:
                if method == "pernode" and size.nodes > args.pernode_max_nodes:
                    continue
                log(f"  baseline {method}")
                rows.append(run_baseline(method, size, cross, inventory, spec, out_dir, args.timeout,
                                         args.pernode_time_limit, args.pernode_workers))
    checks = evaluate(rows)
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if not args.code_snapshot and code_fingerprint(REPO_ROOT) != fingerprint:
        machine["code"] += "; CHANGED DURING THE RUN: rows may mix code versions"
        log("warning: planner/ or solvers/ changed during the run; rows may mix code versions")

    print(format_table(rows))
    if checks:
        print()
        for c in checks:
            print(f"[{c.verdict}] {c.name} ({c.instance}): {c.detail}")
    if args.json:
        document = {"machine": machine, "command": command, "seed": args.seed, "instances": instances,
                    "measurement": {"wall": "perf_counter from spawn to reap of the child process",
                                    "peak": "ru_maxrss of the command's own process (GNU time %M, or the "
                                            "benchmarks/_spawn.py launcher), in MiB"},
                    "results": [dataclasses.asdict(r) for r in rows],
                    "checks": [dataclasses.asdict(c) for c in checks]}
        args.json.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n",
                             encoding="utf-8")
        log(f"wrote {args.json}")
    if args.markdown:
        args.markdown.write_text(format_markdown(rows, checks, machine, command), encoding="utf-8")
        log(f"wrote {args.markdown}")
    if args.strict and any(c.verdict == "FAIL" for c in checks):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
