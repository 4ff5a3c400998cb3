"""Plan review and what-if planning: show a plan or an inventory, diff two plans, render a report, validate a
spec without solving, compare scenarios.

Everything here works on plan documents in the `poolshift.plan/v1` format (PRODUCT §6) and on raw
snapshot and spec dicts; nothing here prints or exits (the CLI does).
"""

from __future__ import annotations
