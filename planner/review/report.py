"""A plan for reviewers: a self-contained HTML page with charts, or Markdown for a pull-request comment.

Both show the summary, nodes per pool and flavor before and after, subnet headroom, the steps in order grouped
by wave, and the excluded nodes with their reasons. The rows are read in `report_data`; `report_md` and
`report_html` lay them out.
"""

from __future__ import annotations

from planner.review.report_html import render_html
from planner.review.report_md import render_markdown

__all__ = ["render_html", "render_markdown"]
