"""Pure optimisation: integer problem in, integer answer out.

This package never imports `planner`, pandas, httpx or click.
"""
