"""How fast and how large the review outputs are at scale (issue 15): `poolshift report` (HTML and Markdown) and
`poolshift show --format md`, each timed as a whole process, on generated 10k and 100k-node plans.

    python -m benchmarks.report_speed                       # 10k and 100k, 5 timed runs each after a warm-up
    python -m benchmarks.report_speed --sizes 10k --repeat 3 --markdown /tmp/report-speed.md
    git archive 03d7396 planner solvers | tar -x -C /tmp/before      # another version of the code ...
    python -m benchmarks.report_speed --versus /tmp/before           # ... timed side by side, run for run

For each size the instance comes from `benchmarks.generate.generate(nodes, pools, seed=1)` (10k: 10,000 nodes and
200 pools; 100k: 100,000 nodes and 1,000 pools), is planned once with `poolshift plan`, and then each command runs
`--repeat` times after one untimed warm-up. Wall time is `time.perf_counter()` around the child process (start-up,
imports, reading and checking the plan, rendering, writing); the median, minimum and maximum are reported with
the size of what was written, and the issue's limits are checked: HTML at 10k within 2 s and at 100k within 8 s,
HTML within 2 MB, default Markdown within 60,000 characters. The files go to `--data-dir` (default
`benchmarks/data/report-speed/`, git-ignored).

`--versus DIR` also runs each command with the `planner` package found in DIR (a copy of another version of the
code, e.g. from `git archive`), alternating with this version run for run (A B A B ...), so that the machine's
drift touches both alike; the table then gives that version's median and the median of the per-run ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from benchmarks.generate import generate

SIZES = {"10k": (10_000, 200), "100k": (100_000, 1_000)}
HTML_SECONDS = {"10k": 2.0, "100k": 8.0}
HTML_BYTES = 2_000_000
MARKDOWN_CHARS = 60_000
DEFAULT_DIR = Path(__file__).resolve().parent / "data" / "report-speed"


@dataclass
class Timing:
    size: str
    command: str
    output: str
    seconds: list[float] = field(default_factory=list)
    bytes: int = 0
    chars: int = 0
    limits: list[str] = field(default_factory=list)
    passed: bool = True
    versus: list[float] = field(default_factory=list)  # the other version's runs, paired with `seconds`

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def poolshift() -> str:
    """The poolshift console script of this interpreter's environment."""
    beside = Path(sys.executable).parent / "poolshift"
    found = str(beside) if beside.exists() else shutil.which("poolshift")
    if not found:
        sys.exit("poolshift is not installed: pip install -e '.[test]'")
    return found


def prepare(size: str, folder: Path) -> Path:
    """Generate the instance (seed 1) and plan it once; returns the plan file."""
    nodes, pools = SIZES[size]
    folder.mkdir(parents=True, exist_ok=True)
    inventory, spec, plan = (folder / f"inventory-{size}.json", folder / f"spec-{size}.yaml",
                             folder / f"plan-{size}.json")
    if not plan.exists():
        snapshot, spec_data = generate(nodes, pools, seed=1)
        inventory.write_text(json.dumps(snapshot), encoding="utf-8")
        spec.write_text(yaml.safe_dump(spec_data, sort_keys=False), encoding="utf-8")
        subprocess.run([poolshift(), "plan", "--inventory", str(inventory), "--spec", str(spec), "-o", str(plan),
                        "--quiet"], check=True, stdout=subprocess.DEVNULL)
    return plan


def commands(size: str, plan: Path, folder: Path) -> list[tuple[str, list[str], Path]]:
    """(label, argv, output file) of every command timed at `size` (a command without `-o` writes to stdout, which
    goes to the output file)."""
    exe = poolshift()
    return [
        ("report (HTML)", [exe, "report", str(plan), "-o", str(folder / f"report-{size}.html"), "--quiet"],
         folder / f"report-{size}.html"),
        ("report --format md", [exe, "report", str(plan), "--format", "md", "-o", str(folder / f"report-{size}.md"),
                                "--quiet"], folder / f"report-{size}.md"),
        ("show --format md", [exe, "show", str(plan), "--format", "md"], folder / f"show-{size}.md"),
    ]


def _wall(argv: list[str], output: Path) -> float:
    """Seconds from spawning the command to reaping it; its stdout goes to `output` unless it writes it itself."""
    with open(output if "-o" not in argv else os.devnull, "wb") as sink:
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=sink, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start


def versus_argv(argv: list[str], code: Path) -> list[str]:
    """The same command run with the `planner` package of `code` (flags it does not know are left out)."""
    launcher = (f"import sys; sys.path.insert(0, {str(code)!r}); sys.argv[0] = 'poolshift'; "
                "from planner.cli import main; sys.exit(main())")
    return [sys.executable, "-c", launcher, *[a for a in argv[1:] if a != "--quiet"]]


def time_command(size: str, label: str, argv: list[str], output: Path, repeat: int,
                 versus: Path | None = None) -> Timing:
    timing = Timing(size, label, output.name)
    other = versus_argv(argv, versus) if versus is not None else None
    for run in range(repeat + 1):
        if other is not None:
            seconds = _wall(other, output)
            if run:
                timing.versus.append(seconds)
        seconds = _wall(argv, output)
        if run:  # the first run warms the file cache and is not counted
            timing.seconds.append(seconds)
    text = output.read_text(encoding="utf-8")
    timing.bytes, timing.chars = len(text.encode("utf-8")), len(text)
    _check(timing, size, label)
    return timing


def _check(timing: Timing, size: str, label: str) -> None:
    checks: list[tuple[str, bool]] = []
    if label == "report (HTML)":
        checks.append((f"median ≤ {HTML_SECONDS[size]:g} s", timing.median <= HTML_SECONDS[size]))
        checks.append(("≤ 2 MB", timing.bytes <= HTML_BYTES))
    else:
        checks.append(("≤ 60,000 chars", timing.chars <= MARKDOWN_CHARS))
    timing.limits = [f"{name}: {'PASS' if ok else 'FAIL'}" for name, ok in checks]
    timing.passed = all(ok for _, ok in checks)


def table(timings: list[Timing]) -> str:
    versus = any(t.versus for t in timings)
    head = "| size | command | median s | min s | max s | runs | output | bytes | characters | limits |"
    rule = "|---|---|---:|---:|---:|---:|---|---:|---:|---|"
    if versus:
        head += " other version: median s | ratio this/other (median of pairs) |"
        rule += "---:|---:|"
    lines = [head, rule]
    for t in timings:
        row = (f"| {t.size} | `{t.command}` | {t.median:.2f} | {min(t.seconds):.2f} | {max(t.seconds):.2f} | "
               f"{len(t.seconds)} | {t.output} | {t.bytes:,} | {t.chars:,} | {'; '.join(t.limits)} |")
        if versus:
            ratio = statistics.median(a / b for a, b in zip(t.seconds, t.versus, strict=True)) if t.versus else None
            row += (f" {statistics.median(t.versus):.2f} | {ratio:.3f} |" if ratio is not None else " - | - |")
        lines.append(row)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10k,100k", help="comma-separated: 10k, 100k")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per command (after one warm-up)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--json", type=Path, help="also write the timings as JSON here")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    parser.add_argument("--versus", type=Path, help="a folder holding another version's planner/ to time "
                                                    "side by side")
    args = parser.parse_args(argv)
    if args.versus is not None and not (args.versus / "planner" / "__init__.py").exists():
        parser.error(f"--versus {args.versus}: no planner/ package there")
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown or args.repeat < 1:
        parser.error(f"unknown sizes {unknown} (known: {', '.join(SIZES)}) or --repeat below 1")
    load_before = os.getloadavg()
    timings: list[Timing] = []
    for size in sizes:
        plan = prepare(size, args.data_dir)
        for label, cmd, output in commands(size, plan, args.data_dir):
            timings.append(time_command(size, label, cmd, output, args.repeat, args.versus))
            print(f"{size} {label}: median {timings[-1].median:.2f} s, {timings[-1].bytes:,} bytes", file=sys.stderr)
    text = table(timings)
    head = (f"load average at start {tuple(round(x, 2) for x in load_before)}, at end "
            f"{tuple(round(x, 2) for x in os.getloadavg())}; command: python -m benchmarks.report_speed "
            f"--sizes {','.join(sizes)} --repeat {args.repeat}" + (f" --versus {args.versus}" if args.versus else ""))
    print(head)
    print(text)
    if args.json:
        args.json.write_text(json.dumps([{**asdict(t), "median": t.median} for t in timings], indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(head + "\n\n" + text + "\n")
    return 0 if all(t.passed for t in timings) else 1


if __name__ == "__main__":
    sys.exit(main())
