"""Review commands: `diff` (two plans), `report` (HTML or Markdown), `whatif` (scenarios side by side).

Parse, call `planner.review`, print, exit. matplotlib, pandas and the planner pipeline are imported
inside the commands (through `planner.review`), so `poolshift --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from planner.cli._common import bad_argument, echo, echo_json, main, output_option


@main.command("diff")
@click.argument("plan_a", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("plan_b", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "md"]), default="text", show_default=True,
              help="md: Markdown tables for a pull-request comment.")
@output_option
def diff_cmd(plan_a: Path, plan_b: Path, fmt: str, output: str) -> None:
    """What changed from PLAN_A to PLAN_B: summary, pools, nodes, requests, order, excluded nodes.

    Timings and timestamps are ignored. Exit 0 whether or not the plans differ.
    """
    from planner.review.diff import diff_plans, render_diff
    from planner.review.plandoc import load_plan

    result = diff_plans(load_plan(plan_a), load_plan(plan_b))
    if output == "json":
        echo_json(result.to_dict())
        return
    echo(render_diff(result, name_a=str(plan_a), name_b=str(plan_b), markdown=fmt == "md").rstrip("\n"))


@main.command("report")
@click.argument("plan", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--out", "out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="File to write (default: stdout).")
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default=None,
              help="Report format (default: from the --out suffix, else html).")
@click.option("--title", default=None, help="Page title (default: 'poolshift plan: <file name>').")
@output_option
def report_cmd(plan: Path, out: Path | None, fmt: str | None, title: str | None, output: str) -> None:
    """A reviewer's report of PLAN: charts of pools and flavors before and after, subnet headroom,
    the steps as a timeline, excluded nodes. HTML is one self-contained file; Markdown suits a
    pull-request comment.
    """
    from planner.review._io import write_text_atomic
    from planner.review.plandoc import load_plan
    from planner.review.report import render_html, render_markdown

    if fmt is None:
        fmt = "md" if out is not None and out.suffix.lower() in (".md", ".markdown") else "html"
    if out is None and output == "json":
        raise bad_argument("--output json needs --out FILE (otherwise the report is the output)", "--out")
    doc = load_plan(plan)
    title = title or f"poolshift plan: {plan.name}"
    text = render_markdown(doc, title=title) if fmt == "md" else render_html(doc, title=title)
    if out is None:
        echo(text.rstrip("\n"))
        return
    write_text_atomic(out, text)
    if output == "json":
        echo_json({"report": str(out), "format": fmt, "bytes": len(text.encode("utf-8"))})
    else:
        echo(f"wrote {fmt} report of {plan} to {out}", err=True)
