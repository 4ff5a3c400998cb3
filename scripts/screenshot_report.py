#!/usr/bin/env python3
"""Render a plan report in headless Chromium and save a screenshot (for docs; not part of CI).

    python scripts/screenshot_report.py                     # a generated 10,000-node plan (docs/report-screenshot.png)
    python scripts/screenshot_report.py --example           # the plan of examples/
    python scripts/screenshot_report.py --plan plan.json --out /tmp/report.png

The default plans `benchmarks.generate.generate(10_000, 200, seed=1)` with its generated spec. Needs Pillow (to
trim the empty bottom of the shot; `pip install pillow`) and a Chromium: `apt-get update && apt-get install -y
chromium`. Chromium runs headless with a new empty profile, networking features off; the page loads nothing.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from planner.planfile import read_plan  # noqa: E402
from planner.review.report import render_html  # noqa: E402

CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--hide-scrollbars", "--force-device-scale-factor=1"]


def example_plan_html() -> str:
    """Plan examples/inventory.json with examples/spec.yaml and render the report."""
    import json

    import yaml

    from planner.planning import make_plan

    snapshot = json.loads((ROOT / "examples" / "inventory.json").read_text())
    spec = yaml.safe_load((ROOT / "examples" / "spec.yaml").read_text())
    plan = make_plan(snapshot, spec, snapshot_source="examples/inventory.json", spec_source="examples/spec.yaml")
    return render_html(plan.document, title="poolshift plan: examples/")


def generated_plan_html(nodes: int, pools: int) -> str:
    """Plan a generated instance (benchmarks.generate, seed 1) and render the report."""
    from benchmarks.generate import generate
    from planner.planning import make_plan

    snapshot, spec = generate(nodes, pools, seed=1)
    plan = make_plan(snapshot, spec, snapshot_source=f"generated {nodes} nodes", spec_source="generated spec")
    return render_html(plan.document, title=f"poolshift plan: {nodes:,} nodes, {pools} pools (generated, seed 1)")


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("no Chromium found: apt-get update && apt-get install -y chromium")


def trim_bottom(png: Path, background: tuple[int, int, int], margin: int = 24) -> None:
    """Cut the empty page background below the content."""
    from PIL import Image

    with Image.open(png) as img:
        rgb = img.convert("RGB")
    width, height = rgb.size
    pixels = rgb.load()
    assert pixels is not None
    bottom = height
    while bottom > 1 and all(pixels[x, bottom - 1] == background for x in range(0, width, 4)):
        bottom -= 1
    shot = rgb.crop((0, 0, width, min(height, bottom + margin)))
    shot.quantize(colors=256, dither=Image.Dither.NONE).save(png, optimize=True)  # a third of the bytes, same look


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", type=Path, help="plan file (default: plan a generated 10,000-node instance)")
    parser.add_argument("--example", action="store_true", help="plan examples/ instead")
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--pools", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report-screenshot.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=9000, help="window height (the top of the page is shot); "
                                                                   "an empty bottom is trimmed")
    args = parser.parse_args()

    if args.plan:
        html = render_html(read_plan(args.plan), title=f"poolshift plan: {args.plan.name}")
    elif args.example:
        html = example_plan_html()
    else:
        html = generated_plan_html(args.nodes, args.pools)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        shot = Path(tmp) / "shot.png"
        cmd = [find_chromium(), *CHROME_FLAGS, f"--user-data-dir={tmp}/profile",
               f"--window-size={args.width},{args.height}", f"--screenshot={shot}", page.as_uri()]
        subprocess.run(cmd, check=True, timeout=120, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        trim_bottom(shot, background=(0xF7, 0xF9, 0xFB))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, args.out)
    print(f"screenshot written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
