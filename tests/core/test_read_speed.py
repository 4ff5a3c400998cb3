"""The faster reading of a snapshot gives the same answers as the plain reading it replaced.

The read of 100,000 nodes remembers what repeats (label sets, quantity strings), parses and checks the depth in one
orjson pass, and gives the addresses of a workload one shared answer; each test here holds one of those to the plain
rule (written out again here, from `planner.modelarts.objects`), including where the fast path must step aside: a
value that equals a remembered one without being a string, text that is not one JSON value, an address that two
workloads list.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import orjson
import pytest

from planner import files, jsondepth
from planner.errors import InputError
from planner.files import MAX_DEPTH, check_json_depth, load_json_bytes
from planner.inventory import build_inventory, describe_workloads
from planner.modelarts.objects import (
    accelerators_in_use,
    node_cluster,
    node_immovable_reason,
    node_unit_uid,
    parse_quantity,
    workload_host_ips,
    workload_identity,
)
from planner.snapshot import read_rows
from tests.core.builders import node, pool, snapshot, workload
from tests.core.test_overhead import random_json

# -- the depth limit, checked by orjson in the parse -------------------------------------------------------


def plain_load(blob: bytes) -> tuple[str, Any]:
    """What the read did before: orjson, then the depth read from the bytes."""
    try:
        data = orjson.loads(blob)
        check_json_depth(blob, "x.json")
    except orjson.JSONDecodeError as exc:
        return "not json", str(exc)
    except InputError as exc:
        return "refused", str(exc)
    return "data", data


def fast_load(blob: bytes) -> tuple[str, Any]:
    try:
        return "data", load_json_bytes(blob, "x.json")
    except orjson.JSONDecodeError as exc:
        return "not json", str(exc)
    except InputError as exc:
        return "refused", str(exc)


def chain(depth: int, rng: random.Random) -> Any:
    """`depth` levels: random JSON hung at each level of a chain of objects and arrays."""
    data: Any = random_json(rng, 2)
    for level in range(depth - 1):
        data = [random_json(rng, 2), data] if level % 2 else {"k": data, "\\\"[": random_json(rng, 1)}
    return data


@pytest.mark.parametrize("seed", range(30))
def test_the_one_pass_depth_check_answers_as_the_bytes_check(seed: int) -> None:
    rng = random.Random(seed)
    data = chain(rng.choice([1, 2, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 5, 2 * MAX_DEPTH]), rng)
    for blob in (orjson.dumps(data), json.dumps(data, indent=1, ensure_ascii=False).encode()):
        assert fast_load(blob) == plain_load(blob)


@pytest.mark.parametrize("blob", [
    b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
    b'{"a":' * MAX_DEPTH + b"1" + b"}" * MAX_DEPTH, b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1),
    b"[" * 1025 + b"]" * 1025, b"[" * (MAX_DEPTH + 1) + b"]" * MAX_DEPTH,       # deeper than orjson takes; unclosed
    b"{},{}", b"1],[2", b"[1],[2]", b"1]", b"[1", b"]", b"", b"  ", b"  7 \n", b'"a"', b"[]", b"{}", b"null",
    b"\xef\xbb\xbf{}", b"[1,]", b'{"a": 1} x', b'"[[[["', b'{"k": "]]]"}', b"\x00",
])
def test_the_one_pass_depth_check_on_the_edges(blob: bytes) -> None:
    assert fast_load(blob) == plain_load(blob)


def test_without_the_depth_orjson_relies_on_the_bytes_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert jsondepth.orjson_pad() == jsondepth.ORJSON_DEPTH - MAX_DEPTH  # this orjson: the one-pass check
    monkeypatch.setattr(jsondepth, "orjson_pad", lambda: 0)
    for depth in (MAX_DEPTH, MAX_DEPTH + 1):
        blob = b"[" * depth + b"]" * depth
        assert fast_load(blob) == plain_load(blob)


# -- nodes, read once per distinct label set ---------------------------------------------------------------

LABELS: list[dict[str, Any]] = [
    {}, {"os.modelarts.node/cluster": "c1"}, {"os.modelarts/billing.status": "0"},
    {"os.modelarts/billing.status": "1", "os.modelarts.node/cluster": "c2"}, {"os.modelarts/billing.status": "2"},
    {"os.modelarts.node/volcano.scheduler.cabinet-exclusive": "x"},
    {"os.modelarts.node/batch.type": "hyperinstance", "os.modelarts.node/batch.uid": "u1"},
    {"os.modelarts.node/batch.type": "hyperinstance", "os.modelarts.node/batch.uid": ""},
]
QUANTITIES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"cpu": "8", "memory": "32Gi"}, {"cpu": "7", "memory": "1Gi"}),
    ({"cpu": "8", "nvidia.com/gpu": "8"}, {"cpu": "8", "nvidia.com/gpu": "8"}),
    ({"cpu": "8", "nvidia.com/gpu": "8"}, {"cpu": "8", "nvidia.com/gpu": "0"}),
    ({"nvidia.com/gpu": "8", "huawei.com/ascend": "2"}, {"nvidia.com/gpu": "7.5", "huawei.com/ascend": "2000m"}),
    ({"nvidia.com/gpu": 8}, {"nvidia.com/gpu": 8.0}), ({"nvidia.com/gpu": 8}, {}), ({"x": "1"}, {"x": "1500m"}),
]


def plain_row(raw: dict[str, Any], pool_name: str) -> tuple[Any, ...]:
    """A node's row by the plain rule, one function of `planner.modelarts.objects` after the other."""
    meta, status = raw["metadata"], raw["status"]
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    held = accelerators_in_use(status["resources"], status.get("availableResources")).held \
        if "resources" in status else ()
    return (meta["name"], pool_name, raw["spec"]["flavor"], status["phase"], node_cluster(labels, pool_name),
            node_unit_uid(labels), node_immovable_reason(status["phase"], labels, annotations),
            status.get("privateIp") or None, held)


def random_nodes(rng: random.Random, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        resources, available = copy.deepcopy(rng.choice(QUANTITIES)) if rng.random() < 0.8 else (None, None)
        raw = node(f"n{i:03d}", rng.choice(["f.a", "f.b"]), phase=rng.choice(["Available"] * 4 + ["Abnormal"]),
                   labels=copy.deepcopy(rng.choice(LABELS)), ip=rng.choice([None, f"10.0.0.{i}"]),
                   annotations=rng.choice([{}, {}, {"os.modelarts.node/lock.action": "scale"}, {"other": "y"},
                                           {"os.modelarts.node/lock.action": ""}]),
                   resources=resources, available=available)
        out.append(raw)
    return out


@pytest.mark.parametrize("seed", range(8))
def test_nodes_read_once_per_label_set_give_the_plain_rows(seed: int) -> None:
    rng = random.Random(seed)
    nodes = {"pool-a": random_nodes(rng, 60), "pool-b": []}
    nodes["pool-b"] = [copy.deepcopy(n) for n in nodes["pool-a"][:30]]
    for k, raw in enumerate(nodes["pool-b"]):
        raw["metadata"]["name"] = f"m{k:03d}"
    rows = read_rows(snapshot([pool("pool-a", ["f.a", "f.b"]), pool("pool-b", ["f.a", "f.b"])], nodes)).nodes
    assert rows == [plain_row(raw, p) for p, items in nodes.items() for raw in items]


@pytest.mark.parametrize(("second", "field", "words"), [
    ({"os.modelarts/billing.status": 0}, "labels", "expected string, got integer"),
    ({"os.modelarts/billing.status": True}, "labels", "expected string, got boolean"),
    ({"os.modelarts/billing.status": ["0"]}, "labels", "expected string, got array"),
])
def test_a_label_set_equal_to_a_remembered_one_but_not_strings_is_refused(second: dict[str, Any], field: str,
                                                                          words: str) -> None:
    first = node("n1", labels={"os.modelarts/billing.status": "0"})
    other = node("n2")
    other["metadata"]["labels"] = second
    raw = snapshot([pool("pool-a")], {"pool-a": [first, other]})
    with pytest.raises(InputError, match=words) as caught:
        read_rows(raw, source="snap.json")
    assert f'$.nodes["pool-a"][1].metadata.{field}' in str(caught.value)


@pytest.mark.parametrize(("value", "kind"), [(True, "True"), (1.5, "1.5"), ("eight", "'eight'")])
def test_a_quantity_equal_to_a_remembered_one_but_not_a_quantity_is_refused(value: Any, kind: str) -> None:
    read = node("n1", resources={"nvidia.com/gpu": "1"}, available={"nvidia.com/gpu": "0"})
    odd = node("n2", resources={"nvidia.com/gpu": value}, available={"nvidia.com/gpu": "0"})
    if value == 1.5:  # a number is a quantity: read, not refused
        rows = read_rows(snapshot([pool("pool-a")], {"pool-a": [read, odd]})).nodes
        assert [r[-1] for r in rows] == [("nvidia.com/gpu",), ("nvidia.com/gpu",)]
        return
    with pytest.raises(InputError, match=f"got {kind}") as caught:
        read_rows(snapshot([pool("pool-a")], {"pool-a": [read, odd]}), source="snap.json")
    assert '$.nodes["pool-a"][1].status.resources["nvidia.com/gpu"]' in str(caught.value)


def test_quantities_are_remembered_as_parsed() -> None:
    for text in ("8", "0", "1500m", "64Gi", "1e3", " 2 ", "+1", "x"):
        first = accelerators_in_use({"g": text}, {"g": "0"})
        assert accelerators_in_use({"g": text}, {"g": "0"}) == first
        expected = parse_quantity(text)
        assert first.unreadable == (None if expected is not None else "resources.g")
        assert first.held == (("g",) if expected is not None and expected > 0 else ())


# -- workloads: each address's workloads and reason ---------------------------------------------------------


def plain_busy(inv_raw: dict[str, Any]) -> dict[str, tuple[tuple[Any, ...], str]]:
    """Node -> (workloads, busy reason) by the plain rule: every Running workload listing the node's address."""
    listed: dict[str, set[Any]] = {}
    for items in inv_raw.get("workloads", {}).values():
        for item in items:
            if item["status"] == "Running":
                for ip in workload_host_ips(item):
                    listed.setdefault(ip, set()).add(workload_identity(item))
    out = {}
    for items in inv_raw["nodes"].values():
        for raw in items:
            ip = raw["status"].get("privateIp")
            own = tuple(sorted(listed.get(ip, ()), key=lambda w: (w.name, w.type, str(w.priority))))
            use = plain_row(raw, "")[-1]
            reason = ("runs " + describe_workloads(own) if own else
                      f"has accelerators in use ({', '.join(use)}) that no listed workload explains" if use else "")
            out[raw["metadata"]["name"]] = (own, reason)
    return out


@pytest.mark.parametrize("overlap", [False, True])
def test_workloads_on_each_address_are_the_plain_ones(overlap: bool) -> None:
    nodes = [node(f"n{i}", ip=f"10.0.0.{i}", resources={"g": "1"}, available={"g": "0" if i == 5 else "1"})
             for i in range(8)]
    loads = {"pool-a": [workload("w1", ["10.0.0.0", "10.0.0.1"]), workload("w2", ["10.0.0.2"], as_members=True),
                        workload("w0", ["10.0.0.3"], status="Pending"), workload("w3", ["10.9.9.9"])]}
    if overlap:  # an address two workloads list, and a workload two pools list
        loads["pool-a"].append(workload("a-first", ["10.0.0.1", "10.0.0.4"], kind="infer", priority=1))
        loads["pool-b"] = [workload("w1", ["10.0.0.0", "10.0.0.1"]), workload("w1", ["10.0.0.6"], priority=3)]
    raw = snapshot([pool("pool-a"), pool("pool-b")], {"pool-a": nodes, "pool-b": []})
    raw["workloads"] = loads
    col = build_inventory(raw).columns["nodes"]
    got = {name: (own, reason) for name, own, reason in zip(col["node"], col["workloads"], col["busy_reason"],
                                                              strict=True)}
    assert got == plain_busy(raw)
    assert col["busy"] == [bool(got[name][1]) for name in col["node"]]
    if overlap:
        assert got["n1"][1] == "runs a-first (infer), w1 (train)"
        assert [w.priority for w in got["n0"][0]] == ["2"] and len(got["n6"][0]) == 1


# -- a JSON file read straight into its wrapping ------------------------------------------------------------


def outcome(read: Any, path: Any) -> tuple[str, Any]:
    try:
        return "data", read(path)
    except InputError as exc:
        return "refused", str(exc)


def plain_file(path: Any) -> Any:
    """The plain path: the bytes, then orjson with the depth check, else the standard parser's words."""
    blob = files.read_bytes(path, "snapshot")
    try:
        return load_json_bytes(blob, str(path))
    except orjson.JSONDecodeError:
        return files.parse_json(files.decode_text(blob, str(path)), str(path))


@pytest.mark.parametrize("text", [
    b'{"a": [1, 2, {"b": "x"}]}', b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
    b"", b"   \n", b'{"a": 1,}', b'{"a": 1}\n{"b": 2}', b"1],[2", b"\xff\xfe", b'{"a": "\x00"}', b'"\xc3\xa9"',
    b"\xef\xbb\xbf{}", b"7",
])
def test_a_json_file_read_into_its_wrapping_is_the_plain_read(tmp_path: Any, text: bytes) -> None:
    path = tmp_path / "snap.json"
    path.write_bytes(text)
    assert outcome(lambda p: files.read_json_file(p, "snapshot"), path) == outcome(plain_file, path)


def test_a_json_file_that_is_not_a_plain_file_or_too_large_takes_the_plain_read(tmp_path: Any,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "snap.json"
    path.write_bytes(b'{"a": [1, 2, 3]}')
    monkeypatch.setenv(files.ENV_MAX_INPUT_BYTES, "10")
    for where in (path, tmp_path, tmp_path / "missing.json"):
        assert outcome(lambda p: files.read_json_file(p, "snapshot"), where) == outcome(plain_file, where)
        assert outcome(lambda p: files.read_json_file(p, "snapshot"), where)[0] == "refused"
    monkeypatch.setenv(files.ENV_MAX_INPUT_BYTES, "16")
    assert files.read_json_file(path, "snapshot") == {"a": [1, 2, 3]}


def test_a_plain_json_file_is_read_once_into_its_wrapping(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "snap.json"
    path.write_bytes(json.dumps({"a": [{"b": [1, "]"]}] * 3}).encode())

    def no_second_read(*_: Any) -> bytes:
        raise AssertionError("the plain path was taken")

    monkeypatch.setattr(files, "read_bytes", no_second_read)
    assert files.read_json_file(path, "snapshot") == {"a": [{"b": [1, "]"]}] * 3}


# -- the fingerprint, written and hashed piece by piece ----------------------------------------------------


@pytest.mark.parametrize("content", [
    {}, {"nodes": {}}, {"a": 1}, {"nodes": []}, {"nodes": {"p": "not a list"}},
    {"zeta": [1, {"b": 2, "a": 1}], "nodes": {"pool-b": [{"y": 1, "x": 2}], "pool-a": [], "é": [1], "😀": [2],
                                               "Z": [3], "": [4]}, "format": "f", "ÿ": {"k": None}},
    {"nodes": {"p": [{"z": 1.5, "a": [True, False, None]}]}, "pools": [{"metadata": {"name": "p"}}]},
])
def test_the_canonical_text_in_pieces_is_orjsons_text(content: dict[str, Any]) -> None:
    from planner.inventory import _canonical_pieces

    assert b"".join(_canonical_pieces(content)) == orjson.dumps(content, option=orjson.OPT_SORT_KEYS)


def test_the_fingerprint_is_the_hash_of_the_whole_canonical_text() -> None:
    import hashlib

    from planner.inventory import canonical_content, fingerprint_snapshot

    raw = snapshot([pool("pool-b"), pool("pool-a"), pool("é-pool")],
                   {"pool-b": [node("b2"), node("b1")], "pool-a": [node("a1")], "é-pool": []})
    raw["workloads"] = {"pool-a": [workload("w", ["10.0.0.1"])]}
    whole = orjson.dumps(canonical_content(raw), option=orjson.OPT_SORT_KEYS)
    assert fingerprint_snapshot(raw) == "sha256:" + hashlib.sha256(whole).hexdigest()
    with pytest.raises(TypeError):  # what orjson refuses is refused as before
        fingerprint_snapshot({**raw, "nodes": {"pool-a": [{1: 2}]}})


@pytest.mark.parametrize("clash", [False, True])
def test_unit_sizes_count_super_node_members_alone_unless_a_node_is_named_like_their_unit(clash: bool) -> None:
    from collections import Counter

    items = [node("n1"), node("s1", super_node="u1"), node("s2", super_node="u1"), node("s3", super_node="u2")]
    if clash:  # a node alone whose name is the unit id of super node u1: the plain rule counts it with u1
        items.append(node("hyperinstance:u1"))
    col = build_inventory(snapshot([pool("pool-a")], {"pool-a": items})).columns["nodes"]
    plain = Counter(col["unit"])
    assert col["unit_size"] == [plain[u] for u in col["unit"]]
    assert dict(zip(col["node"], col["unit_size"], strict=True))["s1"] == (3 if clash else 2)
