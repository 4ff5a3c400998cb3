"""Reading JSON/YAML input files and writing output files for the review commands.

Kept as the review package's import point; the implementations live in `planner.files`.
"""

from __future__ import annotations

from planner.files import canonical_json as dump_json
from planner.files import load_json_mapping, load_yaml_mapping, read_text
from planner.files import write_atomic as write_text_atomic

__all__ = ["dump_json", "load_json_mapping", "load_yaml_mapping", "read_text", "write_text_atomic"]
