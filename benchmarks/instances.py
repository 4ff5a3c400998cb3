"""Benchmark instances: sizes, the instance key of a family/size/seed/setting, a results-table row, the command-line
options that pick instances (`add_instance_options`, `parse_list`, `families_of`), and the instance files generated
once into the data directory and reused (`ensure_instance`).

Owns: what an instance is, how a benchmark's options name them, and where their files are. The runner
(`benchmarks.run`) and the smaller benchmarks decide what to run on them.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks import generate as gen
from benchmarks import measure as ms
from benchmarks.families import FAMILIES

DEFAULT_DATA_DIR = ms.REPO_ROOT / "benchmarks" / "data"


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


def add_instance_options(parser: argparse.ArgumentParser, *, families: str, sizes: str, seeds: str,
                         repeat: int) -> None:
    """The options by which a benchmark picks its instances (`--families`, `--sizes`, `--seeds`, each comma-separated;
    generated into `--data-dir` or reused from it) and how often it measures each (`--repeat`)."""
    parser.add_argument("--families", default=families, help="comma-separated families, or all")
    parser.add_argument("--sizes", default=sizes, help="comma-separated sizes: 1k, 2k, 10k, 100k or NODES:POOLS")
    parser.add_argument("--seeds", default=seeds)
    parser.add_argument("--repeat", type=int, default=repeat)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)


def parse_list(text: str, allowed: Sequence[str], what: str) -> list[str]:
    """A comma-separated option's items (`all`: every allowed one; `none` and blanks left out); an item not allowed
    is an ArgumentTypeError naming it and the choices."""
    items = [t.strip() for t in text.split(",") if t.strip() and t.strip() != "none"]
    if items == ["all"]:
        return list(allowed)
    bad = [t for t in items if t not in allowed]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown {what}: {', '.join(bad)} (choose from {', '.join(allowed)})")
    return items


def families_of(parser: argparse.ArgumentParser, text: str) -> list[str]:
    """The families `--families` names (`parse_list`); an unknown name is a usage error (exit 2)."""
    try:
        return parse_list(text, list(FAMILIES), "family")
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))


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
    family: str = "default"
    seed: int | None = None
    variant: str = ""  # "" or the spec's workloads variant: "keep" | "drain"


@dataclass(frozen=True)
class Instance:
    """One planning instance: family, size, seed, cross-cluster setting and `workloads:` spec variant."""

    family: str
    size: Size
    seed: int
    cross: bool
    busy_nodes: str | None = None

    @property
    def key(self) -> str:
        return (f"{self.family}-{self.size.label}-s{self.seed}-{'cross' if self.cross else 'nocross'}"
                + (f"-{self.busy_nodes}" if self.busy_nodes else ""))

    def row(self, method: str, status: str = "?") -> Row:
        return Row(self.size.label, self.size.nodes, self.size.pools, self.cross, method, status,
                   family=self.family, seed=self.seed, variant=self.busy_nodes or "")


def ensure_instance(size: Size, seed: int, cross_cluster: bool, data_dir: Path, regenerate: bool,
                    log: Callable[[str], None], family: str = "default",
                    busy_nodes: str | None = None) -> tuple[Path, Path, dict[str, Any]]:
    """Paths of the instance's inventory and spec, generating them unless matching files exist.

    A spec variant (cross-cluster setting, `workloads:` section) of an existing inventory is derived from
    another variant's spec, which gives the same document the generator would.
    """
    params: dict[str, Any] = {"nodes": size.nodes, "pools": size.pools, "flavors": 20, "clusters": size.clusters,
                              "seed": seed, "cross_cluster": cross_cluster, "family": family,
                              "busy_nodes": busy_nodes}
    inventory, spec, meta = gen.instance_paths(data_dir, size.nodes, cross_cluster, family, seed, busy_nodes)
    info: dict[str, Any] = {"params": params, "generated": False}
    if not regenerate and gen.meta_matches(meta, params) and inventory.exists():
        if spec.exists():
            return inventory, spec, info
        label = gen.instance_label(size.nodes, family, seed)
        for other in sorted(data_dir.glob(f"spec-{label}*.yaml")):
            spec_doc = yaml.safe_load(other.read_text(encoding="utf-8"))
            spec_doc["limits"]["allow_cross_cluster"] = cross_cluster
            spec_doc.pop("workloads", None)
            if busy_nodes:
                spec_doc["workloads"] = {"busy_nodes": busy_nodes, "drain_timeout": 1800}
            gen.write_spec(spec_doc, spec)
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
