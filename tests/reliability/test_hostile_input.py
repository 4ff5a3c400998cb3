"""Hostile input is bad input (exit 2, one line naming the file), never a crash (issue 17.6).

Deeply nested JSON (2,000 levels) and YAML (500 levels, flow and block style), YAML aliases that expand to
billions of values or refer to themselves, and files above the input size limit, in every command that reads
a file; `auto` records such a failure in its audit log; an audit log that cannot be written is exit 2 too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from planner.auto import AUDIT_FILE, read_audit
from planner.cli import main
from planner.errors import InputError
from planner.files import DEFAULT_MAX_INPUT_BYTES, MAX_DEPTH, load_yaml_mapping, parse_json, read_bytes

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "examples" / "inventory.json"
SPEC = ROOT / "examples" / "spec.yaml"
PLAN = ROOT / "examples" / "plan.json"


def deep_json(folder: Path, depth: int = 2000) -> Path:
    path = folder / "deep.json"
    path.write_text('{"format": "poolshift.inventory/v1", "x": ' + "[" * depth + "]" * depth + "}", encoding="utf-8")
    return path


def deep_yaml_flow(folder: Path, depth: int = 500) -> Path:
    path = folder / "deep.yaml"
    path.write_text("format: poolshift.spec/v1\nx: " + "[" * depth + "]" * depth + "\n", encoding="utf-8")
    return path


def deep_yaml_block(folder: Path, depth: int = 500) -> Path:
    path = folder / "deep-block.yaml"
    lines = ["format: poolshift.spec/v1", "x:"] + ["  " * i + "-" for i in range(1, depth)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(args: list[str]) -> Result:
    return CliRunner().invoke(main, args)


def assert_refused(result: Result, path: Path, fragment: str = f"nested more than {MAX_DEPTH} levels deep") -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == f"poolshift: error: {path}: {fragment}; refusing it" or (
        lines[-1].startswith(f"poolshift: error: {path}: ") and fragment in lines[-1]), lines
    assert "internal error" not in result.stderr and "Traceback" not in result.output + result.stderr


# Every command that reads a file, with the deep file in each place a file goes.
JSON_COMMANDS = {
    "inventory show": lambda f, o: ["inventory", "show", str(f)],
    "plan --inventory": lambda f, o: ["plan", "--inventory", str(f), "--spec", str(SPEC), "-o", str(o / "p.json")],
    "show": lambda f, o: ["show", str(f)],
    "diff (first)": lambda f, o: ["diff", str(f), str(PLAN)],
    "diff (second)": lambda f, o: ["diff", str(PLAN), str(f)],
    "apply": lambda f, o: ["apply", str(f), "--endpoint", "http://127.0.0.1:9", "--project-id", "p"],
    "report": lambda f, o: ["report", str(f), "-o", str(o / "r.html")],
    "whatif --inventory": lambda f, o: ["whatif", "--inventory", str(f), "--spec", str(SPEC), "--scenarios",
                                        str(ROOT / "examples" / "scenarios.yaml")],
    "emulator": lambda f, o: ["emulator", "--snapshot", str(f), "--port", "0"],
}
YAML_COMMANDS = {
    "plan --spec": lambda f, o: ["plan", "--inventory", str(INVENTORY), "--spec", str(f), "-o", str(o / "p.json")],
    "whatif --spec": lambda f, o: ["whatif", "--inventory", str(INVENTORY), "--spec", str(f), "--scenarios",
                                   str(ROOT / "examples" / "scenarios.yaml")],
    "whatif --scenarios": lambda f, o: ["whatif", "--inventory", str(INVENTORY), "--spec", str(SPEC), "--scenarios",
                                        str(f)],
    "auto --spec": lambda f, o: ["auto", "--spec", str(f), "--state-dir", str(o / "state"), "--endpoint",
                                 "http://127.0.0.1:9", "--project-id", "p"],
}


@pytest.mark.parametrize("command", sorted(JSON_COMMANDS))
def test_2000_deep_json_is_exit_2_naming_the_file(tmp_path: Path, command: str) -> None:
    deep = deep_json(tmp_path)
    assert_refused(run(JSON_COMMANDS[command](deep, tmp_path)), deep)


@pytest.mark.parametrize("style", ["flow", "block"])
@pytest.mark.parametrize("command", sorted(YAML_COMMANDS))
def test_500_deep_yaml_is_exit_2_naming_the_file(tmp_path: Path, command: str, style: str) -> None:
    deep = deep_yaml_flow(tmp_path) if style == "flow" else deep_yaml_block(tmp_path)
    assert_refused(run(YAML_COMMANDS[command](deep, tmp_path)), deep)


def test_auto_records_a_deep_spec_in_its_audit_log(tmp_path: Path) -> None:
    deep = deep_yaml_flow(tmp_path)
    result = run(YAML_COMMANDS["auto --spec"](deep, tmp_path))
    assert result.exit_code == 2
    [record] = read_audit(tmp_path / "state" / AUDIT_FILE)
    assert (record["outcome"], record["stage"]) == ("failed", "spec")
    assert record["error"]["exit_code"] == 2 and "nested more than" in record["error"]["message"]


def test_json_at_the_depth_limit_is_read(tmp_path: Path) -> None:
    data = parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH, "ok.json")
    for _ in range(MAX_DEPTH - 1):
        data = data[0]
    assert data == []
    with pytest.raises(InputError, match="nested more than"):
        parse_json("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "deep.json")


def test_orjson_depth_below_its_own_limit_is_still_refused(tmp_path: Path) -> None:
    # orjson parses up to 1,024 levels itself: the snapshot reader must still refuse 1,000
    path = deep_json(tmp_path, depth=1000)
    assert_refused(run(["inventory", "show", str(path)]), path)


def test_a_yaml_alias_bomb_is_refused_without_being_expanded(tmp_path: Path) -> None:
    lines = ["format: poolshift.spec/v1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]  # 10**10 values
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="expands to more than"):
        load_yaml_mapping(bomb)
    assert_refused(run(YAML_COMMANDS["plan --spec"](bomb, tmp_path)), bomb, "expands to more than")


def test_a_recursive_yaml_alias_is_refused(tmp_path: Path) -> None:
    loop = tmp_path / "loop.yaml"
    loop.write_text("format: poolshift.spec/v1\npin: &p [a, *p]\n", encoding="utf-8")
    assert_refused(run(YAML_COMMANDS["plan --spec"](loop, tmp_path)), loop, "refers to itself")


def test_a_file_above_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as fh:  # sparse: no disk space, and reading it would take the default limit and more
        fh.truncate(DEFAULT_MAX_INPUT_BYTES + 1)
    assert_refused(run(["inventory", "show", str(huge)]), huge, f"larger than the input limit of "
                                                                 f"{DEFAULT_MAX_INPUT_BYTES} bytes")


def test_the_size_limit_is_overridable_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POOLSHIFT_MAX_INPUT_BYTES", "1000")
    assert_refused(run(["show", str(PLAN)]), PLAN, "larger than the input limit of 1000 bytes")
    with pytest.raises(InputError, match="larger than the input limit"):  # a pipe has no size: the read stops
        read_bytes("/dev/zero")
    monkeypatch.setenv("POOLSHIFT_MAX_INPUT_BYTES", str(PLAN.stat().st_size))
    assert run(["show", str(PLAN)]).exit_code == 0
    monkeypatch.setenv("POOLSHIFT_MAX_INPUT_BYTES", "lots")
    result = run(["show", str(PLAN)])
    assert result.exit_code == 2 and "POOLSHIFT_MAX_INPUT_BYTES: must be a positive number of bytes" in result.stderr


def test_an_unwritable_audit_log_is_exit_2_with_one_line(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / AUDIT_FILE).mkdir(parents=True)  # a folder where the log goes: no process can write it
    spec = tmp_path / "spec.yaml"
    spec.write_text("format: poolshift.spec/v1\npools: {}\n", encoding="utf-8")
    result = run(["auto", "--spec", str(spec), "--state-dir", str(state), "--freeze", "--endpoint",
                  "http://127.0.0.1:9", "--project-id", "p"])
    assert result.exit_code == 2, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"poolshift: error: {state / AUDIT_FILE}: cannot open the audit log"), last
    assert "internal error" not in result.stderr
