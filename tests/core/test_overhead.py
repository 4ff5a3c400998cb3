"""The faster work around the solve gives the same results: JSON text, depth checks, seals, counts, verifier words.

Each fast path here replaced slower code with the same outcome; these tests hold it to that outcome, including
on the inputs where the fast path must step aside (floats orjson writes differently, types it does not know).
"""

from __future__ import annotations

import enum
import json
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from planner.errors import InputError
from planner.files import (
    MAX_DEPTH,
    _load_yaml,
    _UniqueKeyLoader,
    canonical_json,
    check_depth,
    check_json_depth,
    compact_json,
    load_yaml_mapping,
)
from planner.inventory import build_inventory, flavor_counts
from planner.jsontext import _orjson_text
from planner.planfile import write_plan
from planner.planfile.model import Summary
from planner.planning import make_plan
from planner.spec import parse_spec
from planner.verify import verify_plan
from tests.core.builders import node, nodes_of, pool, snapshot, spec


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Sub(dict[str, Any]):
    pass


PLAIN: list[Any] = [
    {}, [], {"a": []}, {"b": {}, "a": [{}, []]}, [1, 2.5, "x", None, True, False], "text", 7, None, 0.1, -0.0, 1e16,
    {"é": "\u2028\x7f\x1f\"\\\n\t\r\b\f", "z": 1, "a": {"y": None, "b": True}},
    {"😀": 1, "ÿ": 2, "a": 3, "Z": 4, "": 5},           # sorted by code point, as the standard library sorts
    (1, 2, {"b": (3,), "a": 1}), 2**63 - 1, -(2**63), 1.5e300, 5e-324, 0.0001, 123456789.125,
]
ODD: list[Any] = [
    1e-05, {"x": [2.5e-07]}, {"x": float("nan")}, [float("inf"), float("-inf")], {1: 2}, {"x": 2**70}, {"x": -(2**64)},
    {"x": "\ud800"}, {"x": Colour.RED}, {"x": Level.HIGH}, Sub(a=1), [Sub(b=1.0)],
]


@pytest.mark.parametrize("data", PLAIN + ODD, ids=repr)
def test_canonical_and_compact_json_are_the_standard_librarys_text(data: Any) -> None:
    assert canonical_json(data) == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert compact_json(data) == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("data", PLAIN, ids=repr)
def test_plain_json_takes_the_orjson_path(data: Any) -> None:
    assert _orjson_text(data, orjson.OPT_SORT_KEYS) is not None


@pytest.mark.parametrize("data", ODD, ids=repr)
def test_what_orjson_writes_differently_or_refuses_takes_the_standard_path(data: Any) -> None:
    assert _orjson_text(data, orjson.OPT_SORT_KEYS) is None


def nest(depth: int) -> Any:
    """`depth` containers, objects and arrays in turn, each among shallow siblings, with a scalar at the bottom."""
    value: Any = ["leaf", 1]
    for level in range(1, depth):
        value = {"deep": value, "flat": 1, "list": [1, "x"]} if level % 2 else [0, value, {"k": "v"}]
    return value


def test_depth_check_takes_exactly_max_depth_levels() -> None:
    check_depth(nest(MAX_DEPTH), "ok.json")
    check_depth({"wide": [nest(MAX_DEPTH - 2) for _ in range(50)], "more": list(range(1000))}, "ok.json")
    for scalar in ("s", 1, None, 2.5):
        check_depth(scalar, "ok.json")
    for too_deep in (nest(MAX_DEPTH + 1), {"a": [1, 2, {"b": nest(MAX_DEPTH - 2)}]}, [[nest(MAX_DEPTH - 1)]]):
        with pytest.raises(InputError, match=f"nested more than {MAX_DEPTH} levels deep") as caught:
            check_depth(too_deep, "deep.json")
        assert str(caught.value).startswith("deep.json")


SNAP = snapshot(
    [pool("pool-a", ["f.a", "f.b"]), pool("pool-b", {"f.a": 6, "f.b": None}, cluster="lite-b")],
    {"pool-a": nodes_of("a", 6, cluster="lite-a") + [node("a-b", "f.b", cluster="lite-a")]
     + [node(f"a-s{i}", cluster="lite-a", super_node="spod") for i in range(2)],
     "pool-b": nodes_of("b", 2, cluster="lite-b")})
SPEC = spec({"pool-a": {"target": 4}, "pool-b": {"target": 6}})


def test_write_plan_refuses_a_plan_changed_after_sealing(tmp_path: Path) -> None:
    document = make_plan(SNAP, SPEC).document
    write_plan(tmp_path / "plan.json", document)
    assert (tmp_path / "plan.json").read_text(encoding="utf-8") == document.to_json() == document.sealed_json()
    summary = Summary.model_validate({**document.summary.model_dump(), "moves": document.summary.moves + 1})
    changed = document.model_copy(update={"summary": summary})
    with pytest.raises(ValueError, match="digest does not match"):
        write_plan(tmp_path / "changed.json", changed)
    assert not (tmp_path / "changed.json").exists()
    write_plan(tmp_path / "changed.json", changed.sealed())  # sealed again, it is written


def test_a_plan_made_without_the_fingerprint_differs_only_in_it() -> None:
    inv = build_inventory(SNAP)
    plan = make_plan(inv, SPEC, fingerprint=False)
    assert "fingerprint" not in vars(inv)  # never computed (a cached property once it is)
    assert plan.document.inventory_fingerprint == "unrecorded"
    full = make_plan(inv, SPEC)
    assert full.document.inventory_fingerprint == inv.fingerprint and inv.fingerprint.startswith("sha256:")
    same: dict[str, Any] = {"inventory_fingerprint": True, "digest": True, "created_at": True,
                            "summary": {"solve_seconds"}}
    assert plan.document.model_dump(exclude=same) == full.document.model_dump(exclude=same)


def test_flavor_counts_are_counted_once_and_handed_out_as_copies() -> None:
    inv = build_inventory(SNAP)
    first = flavor_counts(inv)
    assert first == {("pool-a", "f.a"): 8, ("pool-a", "f.b"): 1, ("pool-b", "f.a"): 2}
    first[("pool-a", "f.a")] = 0
    assert flavor_counts(inv)[("pool-a", "f.a")] == 8


def test_verifier_reads_why_a_named_node_may_not_move() -> None:
    doc = make_plan(SNAP, SPEC).document
    assert verify_plan(SNAP, parse_spec(SPEC), doc) == []
    moved = doc.steps[0].nodes[0]
    for pin_spec, words in ((spec({"pool-a": {"target": 4}, "pool-b": {"target": 6}}, pin=[moved]), "pinned"),):
        problems = verify_plan(SNAP, parse_spec(pin_spec), doc)
        assert f"node {moved} may not move ({words})" in "; ".join(problems)
    locked = json.loads(json.dumps(SNAP))
    for item in locked["nodes"][doc.steps[0].source]:
        if item["metadata"]["name"] == moved:
            item["metadata"]["annotations"] = {"os.modelarts.node/lock.action": "x"}
    assert f"node {moved} may not move (locked)" in "; ".join(verify_plan(locked, parse_spec(SPEC), doc))


def random_string(rng: random.Random) -> str:
    """Text full of what could fool a bytes reading: brackets, quotes, backslashes, escapes, other scripts."""
    parts = ['[', ']', '{', '}', '"', '\\', '\\"', '\\\\', 'a', 'é', '\n', '"]', '\\[', '😀']
    return "".join(rng.choice(parts) for _ in range(rng.randint(0, 6)))


def random_json(rng: random.Random, depth: int) -> Any:
    """Random JSON of at most `depth` levels, its strings made by `random_string`."""
    if depth <= 0 or rng.random() < 0.25:
        return rng.choice([random_string(rng), rng.randint(-5, 5), 2.5, None, True, ""])
    if rng.random() < 0.5:
        return [random_json(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    return {random_string(rng) + str(i): random_json(rng, depth - 1) for i in range(rng.randint(0, 3))}


def walk_verdict(data: Any) -> bool:
    try:
        check_depth(data, "x.json")
    except InputError:
        return False
    return True


def bytes_verdict(blob: bytes) -> bool:
    try:
        check_json_depth(blob, "x.json")
    except InputError as exc:
        assert str(exc) == f"x.json: nested more than {MAX_DEPTH} levels deep; refusing it"
        return False
    return True


@pytest.mark.parametrize("seed", range(40))
def test_depth_read_from_the_bytes_agrees_with_the_walk(seed: int) -> None:
    rng = random.Random(seed)
    depth = rng.choice([MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 2, 3])
    data: Any = random_json(rng, 3)
    for level in range(depth - 1):  # a chain of `depth` levels, random JSON hung at each
        data = [random_json(rng, 2), data] if level % 2 else {"k": data, "\\\"[": random_json(rng, 2)}
    texts = (orjson.dumps(data), json.dumps(data).encode(), json.dumps(data, indent=1, ensure_ascii=False).encode())
    for blob in texts:
        assert orjson.loads(blob) == data
        assert bytes_verdict(blob) == walk_verdict(data)


def test_depth_read_from_the_bytes_at_the_limit() -> None:
    assert bytes_verdict(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    assert not bytes_verdict(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    hidden = b'{"a": "' + b"[" * 200 + b'", "b": ["\\\\", "\\"]]]"]}'  # brackets in strings, escapes before quotes
    assert bytes_verdict(hidden) and walk_verdict(orjson.loads(hidden))
    assert bytes_verdict(b'"just a string [[["') and bytes_verdict(b"42")


YAML_TEXTS = [
    "a: 1\nb: [1, 2.5, x, null, true, '1e3', 1e3, 0o17, 0x1f, .inf, ~]\n",
    "pools:\n  p1: {target: 3, min: 2}\n  'p 2':\n    flavors: {f.a: 2}\n",
    "a: &x {b: 1}\nc: *x\nd: !!str 12\ne: 2026-01-02\nf: |\n  text\n  more\ng: >\n  folded\n  line\n",
    "yes: no\nno: off\nk: 'it''s'\nl: \"tab\\tnew\\nline é 😀\"\n",
    "- 1\n- [a, {b: c}]\n",
]
YAML_BAD = ["yes: 1\non: 2\n", "a: 1\na: 2\n", "a: [1, 2\n", "a: b: c\n", "key: 'unterminated\n", "\ta: 1\n",
            "a: *missing\n", "{a: 1", "a: 1\n---\nb: 2\n"]


def yaml_outcome(load: Any, text: str) -> tuple[str, Any]:
    try:
        return "data", load(text)
    except yaml.YAMLError as exc:
        return "refused", str(exc)


@pytest.mark.parametrize("text", YAML_TEXTS + YAML_BAD + [p.read_text(encoding="utf-8") for p in sorted(
    Path(__file__).resolve().parents[2].glob("**/*.yaml")) if ".venv" not in p.parts][:40])
def test_yaml_read_by_libyaml_is_what_the_pure_loader_reads(text: str) -> None:
    fast, pure = yaml_outcome(_load_yaml, text), yaml_outcome(lambda t: yaml.load(t, Loader=_UniqueKeyLoader), text)
    assert fast == pure


@pytest.mark.parametrize("text", YAML_BAD)
def test_yaml_refusals_are_the_pure_loaders_words(tmp_path: Path, text: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(yaml.YAMLError) as pure:
        yaml.load(text, Loader=_UniqueKeyLoader)
    with pytest.raises(InputError) as caught:
        load_yaml_mapping(path)
    problem = pure.value.problem if isinstance(pure.value, yaml.MarkedYAMLError) else str(pure.value)
    assert str(problem) in str(caught.value) and str(caught.value).startswith(str(path))


def test_verifier_world_takes_a_twice_listed_node_by_its_last_listing() -> None:
    from planner.verify.world import read_world

    twice = json.loads(json.dumps(SNAP))
    member = next(n for n in twice["nodes"]["pool-a"] if n["metadata"]["name"] == "a-s0")
    alone = json.loads(json.dumps(member))
    del alone["metadata"]["labels"]["os.modelarts.node/batch.uid"]
    twice["nodes"]["pool-b"].append(alone)  # a-s0 again, now in pool-b and alone
    world = read_world(twice, parse_spec(SPEC))
    assert world.where["a-s0"] == "pool-b" and "a-s0" not in world.unit and world.unit["a-s1"] == "spod"
    assert read_world(SNAP, parse_spec(SPEC)).unit == {"a-s0": "spod", "a-s1": "spod"}


def leaf_types(annotation: Any) -> set[Any]:
    """Every scalar type a value of `annotation` can hold in JSON, through containers, unions, Annotated, Literal
    and nested models (`Any` stays `Any`)."""
    from typing import Annotated, Literal, Union, get_args, get_origin, get_type_hints

    from pydantic import BaseModel
    from typing_extensions import is_typeddict

    origin = get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        hints = get_type_hints(annotation, include_extras=True)
        return set().union(*(leaf_types(hints[name]) for name in annotation.model_fields))
    if is_typeddict(annotation):
        return set().union(*map(leaf_types, get_type_hints(annotation, include_extras=True).values()))
    if origin is Annotated:
        return leaf_types(get_args(annotation)[0])
    if origin is Literal:
        return {type(v) for v in get_args(annotation)}
    if origin in (list, tuple, dict, Union) or type(annotation).__name__ == "UnionType":
        args = get_args(annotation)[1:] if origin is dict else get_args(annotation)
        return set().union(*(leaf_types(a) for a in args if a is not Ellipsis))
    return {annotation}


def test_the_typed_parts_of_a_plan_hold_no_float_and_no_any() -> None:
    """The digest and the written text skip the float walk over these parts (`_dumped_floats`): it holds only while
    their models can hold nothing but strings, integers, flags and None."""
    from typing import get_type_hints

    from planner.planfile.model import TYPED_PARTS, PlanDocument

    fields = get_type_hints(PlanDocument, include_extras=True)
    for part, model in TYPED_PARTS.items():
        assert model in fields[part].__args__  # the model that part holds (dict[str, PoolRow], list[PlanStep], ...)
        assert leaf_types(fields[part]) <= {str, int, bool, type(None)}, part
    assert float in leaf_types(fields["summary"])  # the check sees a float
    assert Any in leaf_types(fields["spec"])       # and an Any


def test_a_plan_with_floats_orjson_writes_differently_is_written_and_sealed_as_the_standard_library_does(
        tmp_path: Path) -> None:
    import hashlib

    document = make_plan(SNAP, {**SPEC, "auto": {"gates": {"ratio": 1e-05}}}).document
    summary = Summary.model_validate({**document.summary.model_dump(), "solve_seconds": 2.5e-07})
    for odd in (document, document.model_copy(update={"summary": summary}).sealed()):
        data = odd.model_dump(mode="json")
        standard = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        write_plan(tmp_path / "odd.json", odd)
        assert (tmp_path / "odd.json").read_text(encoding="utf-8") == standard == odd.to_json()
        content = {k: v for k, v in data.items() if k != "digest"}
        compact = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert odd.digest == "sha256:" + hashlib.sha256(compact.encode()).hexdigest()
    assert "1e-05" in standard and "2.5e-07" in standard


def test_a_plan_is_written_from_the_dump_it_was_sealed_on_once_and_then_dumped_again(tmp_path: Path) -> None:
    from planner.planfile import model

    document = make_plan(SNAP, SPEC).document
    assert model._LAST_SEALED and model._LAST_SEALED[0][0]() is document  # kept from the seal ...
    write_plan(tmp_path / "first.json", document)
    assert not model._LAST_SEALED                                          # ... until the write
    write_plan(tmp_path / "again.json", document)  # dumped and checked again: the same bytes
    first = (tmp_path / "first.json").read_text(encoding="utf-8")
    assert first == (tmp_path / "again.json").read_text(encoding="utf-8") == document.to_json()
    unwritten = make_plan(SNAP, SPEC).document
    assert model._LAST_SEALED[0][0]() is unwritten
    del unwritten  # a plan dropped unwritten lets its dump go
    assert not model._LAST_SEALED
