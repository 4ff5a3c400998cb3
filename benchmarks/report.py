"""The runner's output: the results table (text and Markdown), the checks, the machine description; and how the
smaller benchmarks (ideas, floor) hand out their table (`emit`).

Must not: measure or decide anything (benchmarks/run.py measures, benchmarks/checks.py decides).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.checks import Check
from benchmarks.measure import REPO_ROOT

COLUMNS = ("family", "name", "seed", "nodes", "pools", "cross-cluster", "method", "status", "bound", "deviation",
           "moves", "wall s", "peak MiB")


def cells(row: Any) -> list[str]:
    """A row's table cells, in COLUMNS order."""

    def show(value: Any) -> str:
        return "-" if value is None else str(value)

    cross = "-" if row.cross_cluster is None else ("on" if row.cross_cluster else "off")
    wall = "-" if row.wall_seconds is None else f"{row.wall_seconds:.3f}"
    peak = "-" if row.peak_mib is None else f"{row.peak_mib:.1f}"
    name = row.name + (f" {row.variant}" if row.variant else "")
    return [row.family if row.cross_cluster is not None else "-", name, show(row.seed), show(row.nodes or None),
            show(row.pools or None), cross, row.method, row.status, show(row.bound), show(row.deviation),
            show(row.moves), wall, peak]


def format_table(rows: Sequence[Any]) -> str:
    """A plain-text table, columns padded to width."""
    table = [list(COLUMNS)] + [cells(r) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(rows: Sequence[Any], checks: Sequence[Check], machine: dict[str, Any], command: str,
                    extras: Sequence[str] = ()) -> str:
    """The results as a Markdown section for benchmarks/RESULTS.md (`extras`: further Markdown blocks)."""
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
    out += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    if checks:
        passed = sum(1 for c in checks if c.verdict == "PASS")
        failed = sum(1 for c in checks if c.verdict == "FAIL")
        out += ["", f"Checks: {passed} PASS, {failed} FAIL, {len(checks) - passed - failed} N/A.", "",
                "| check | instance | verdict | detail |", "|---|---|---|---|"]
        out += [f"| {c.name} | {c.instance} | {c.verdict} | {c.detail} |" for c in checks]
    for block in extras:
        out += ["", block]
    return "\n".join(out) + "\n"


def _run_text(cmd: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(cmd), capture_output=True, text=True, timeout=30, cwd=REPO_ROOT, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def machine_info() -> dict[str, Any]:
    """CPU model and count, RAM, OS, Python, OR-Tools and poolshift versions, git commit, load average."""
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


def emit(text: str, data: Any, markdown: Path | None, json_path: Path | None) -> None:
    """A benchmark's Markdown table printed, and written to `markdown`, its data to `json_path` (each when given)."""
    print(text)
    if markdown:
        markdown.write_text(text + "\n", encoding="utf-8")
    if json_path:
        json_path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
