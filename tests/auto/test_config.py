"""The `auto:` spec section, time windows and the `--window` syntax (no emulator)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from planner.auto import AutoConfig, AutoOptions, Window, cap_moves, parse_auto, parse_window_option, resolve_gates
from planner.errors import InputError
from planner.spec import read_spec_file
from tests.auto.conftest import BASE_SPEC, write_spec


def test_defaults_when_absent() -> None:
    config = parse_auto(None)
    assert config == AutoConfig()
    assert config.min_improvement == 1 and config.max_moves_per_cycle is None and config.windows == ()


def test_full_section() -> None:
    config = parse_auto({
        "min_improvement": 3, "max_moves_per_cycle": 10, "freeze_file": "FREEZE", "state_dir": "state",
        "windows": [{"days": ["mon-fri"], "start": "22:00", "end": "06:00", "tz": "Europe/Berlin"},
                    {"days": "sat,Sunday", "start": "00:00", "end": "24:00"}],
    })
    assert config.windows[0].days == ("mon", "tue", "wed", "thu", "fri")
    assert config.windows[0].describe() == "mon,tue,wed,thu,fri 22:00-06:00 Europe/Berlin"
    assert config.windows[1].days == ("sat", "sun") and config.windows[1].tz == "UTC"
    assert config.windows[1].describe() == "sat,sun 00:00-00:00 UTC"


@pytest.mark.parametrize(("auto", "path", "words"), [
    ({"windos": []}, "auto.windos", "unknown key"),
    ({"windows": [{"days": ["mon", "funday"], "start": "22:00", "end": "06:00"}]}, "auto.windows[0].days[1]",
     "must be one of"),
    ({"windows": [{"day": ["mon"], "start": "22:00", "end": "06:00"}]}, "auto.windows[0].day", "unknown key"),
    ({"windows": [{"start": 1320, "end": "06:00"}]}, "auto.windows[0].start", "in quotes"),
    ({"windows": [{"start": "25:00", "end": "06:00"}]}, "auto.windows[0].start", "HH:MM"),
    ({"windows": [{"start": "22:00"}]}, "auto.windows[0].end", "missing"),
    ({"windows": [{"start": "22:00", "end": "06:00", "tz": "Mars/Olympus"}]}, "auto.windows[0].tz",
     "unknown time zone"),
    ({"windows": [{"days": [], "start": "22:00", "end": "06:00"}]}, "auto.windows[0].days", "no day"),
    ({"min_improvement": -1}, "auto.min_improvement", "negative"),
    ({"max_moves_per_cycle": 0}, "auto.max_moves_per_cycle", "at least 1"),
    ({"max_moves_per_cycle": "5"}, "auto.max_moves_per_cycle", "whole number"),
    ({"windows": {"start": "22:00"}}, "auto.windows", ""),
])
def test_rejections_name_the_key_path(auto: dict[str, object], path: str, words: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_auto(auto, source="spec.yaml")
    assert caught.value.path == path
    assert caught.value.source == "spec.yaml"
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"spec.yaml: {path}: ")


def test_not_a_mapping() -> None:
    with pytest.raises(InputError, match=r"spec.yaml: auto: expected a mapping"):
        parse_auto(["x"], source="spec.yaml")


def test_unquoted_yaml_time_is_explained(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("format: poolshift.spec/v1\nauto:\n  windows:\n    - {start: 22:00, end: '06:00'}\n")
    with pytest.raises(InputError, match=r"auto.windows\[0\].start: write the time in quotes.*1320"):
        parse_auto(read_spec_file(spec)["auto"], source=str(spec))


def _at(text: str, tz: str = "UTC") -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


def test_window_same_day() -> None:
    window = Window(days=("mon",), start="09:00", end="17:00")  # type: ignore[arg-type]
    assert window.contains(_at("2026-01-05T09:00"))  # a Monday
    assert window.contains(_at("2026-01-05T16:59"))
    assert not window.contains(_at("2026-01-05T17:00"))
    assert not window.contains(_at("2026-01-06T10:00"))  # Tuesday


def test_window_across_midnight_belongs_to_the_day_it_starts() -> None:
    window = Window(days=("fri",), start="22:00", end="06:00")  # type: ignore[arg-type]
    assert window.contains(_at("2026-01-09T23:30"))  # Friday night
    assert window.contains(_at("2026-01-10T05:59"))  # Saturday morning: still Friday's window
    assert not window.contains(_at("2026-01-10T06:00"))
    assert not window.contains(_at("2026-01-09T03:00"))  # Friday morning belongs to Thursday's window
    assert not window.contains(_at("2026-01-10T23:00"))  # Saturday night


def test_window_whole_day_and_wrapping_range() -> None:
    window = parse_window_option("fri-mon 00:00-00:00")
    assert window.days == ("fri", "sat", "sun", "mon")
    assert window.contains(_at("2026-01-11T12:00"))  # Sunday
    assert not window.contains(_at("2026-01-07T12:00"))  # Wednesday


def test_window_time_zone_and_daylight_saving() -> None:
    window = parse_window_option("daily 22:00-06:00 Europe/Berlin")
    # 21:30 UTC is 22:30 in Berlin in winter (UTC+1) and 23:30 in summer (UTC+2)
    assert window.contains(datetime(2026, 1, 5, 21, 30, tzinfo=UTC))
    assert window.contains(datetime(2026, 7, 6, 21, 30, tzinfo=UTC))
    # 20:30 UTC is 21:30 in Berlin in winter: outside; 22:30 in summer: inside
    assert not window.contains(datetime(2026, 1, 5, 20, 30, tzinfo=UTC))
    assert window.contains(datetime(2026, 7, 6, 20, 30, tzinfo=UTC))
    # 05:30 UTC is 06:30 in Berlin in winter: outside
    assert not window.contains(datetime(2026, 1, 6, 5, 30, tzinfo=UTC))


@pytest.mark.parametrize("text", ["mon-fri", "mon-fri 22:00", "mon 22-06", "mon 22:00-06:00 UTC extra",
                                  "moon 22:00-06:00", "mon 22:00-06:00 Nowhere/City", "mon 22:00-26:00"])
def test_window_option_rejections(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_window_option(text)
    assert caught.value.source == "arguments" and caught.value.path == "--window"


def test_flags_override_the_spec(tmp_path: Path) -> None:
    config = parse_auto({"min_improvement": 5, "max_moves_per_cycle": 9, "freeze_file": "FREEZE",
                         "windows": [{"start": "22:00", "end": "06:00"}]})
    spec_path = tmp_path / "conf" / "spec.yaml"
    gates = resolve_gates(config, AutoOptions(), spec_path)
    assert (gates.min_improvement, gates.max_moves, len(gates.windows)) == (5, 9, 1)
    assert gates.freeze_file == tmp_path / "conf" / "FREEZE"  # relative to the spec file
    gates = resolve_gates(config, AutoOptions(min_improvement=0, max_moves=2, windows=(), freeze=True,
                                              freeze_file=Path("/run/stop")), spec_path)
    assert (gates.min_improvement, gates.max_moves, gates.windows, gates.freeze) == (0, 2, (), True)
    assert gates.freeze_file == Path("/run/stop")


def test_cap_lowers_max_moves_on_a_copy() -> None:
    spec = {**BASE_SPEC, "limits": {"max_moves": 10, "max_batch_size": 3}}
    capped, note = cap_moves(spec, 4)
    assert capped["limits"] == {"max_moves": 4, "max_batch_size": 3}
    assert spec["limits"] == {"max_moves": 10, "max_batch_size": 3}  # the caller's spec is untouched
    assert note is not None and "10" in note
    assert cap_moves(spec, 20) == (spec, None)  # the spec's own limit is already lower
    assert cap_moves(spec, None) == (spec, None)
    capped, _ = cap_moves(dict(BASE_SPEC), 2)
    assert capped["limits"] == {"max_moves": 2} and "limits" not in BASE_SPEC


def test_spec_with_auto_section_still_validates_as_a_spec(tmp_path: Path) -> None:
    from planner.spec import load_spec

    path = write_spec(tmp_path, auto={"max_moves_per_cycle": 2})
    assert load_spec(path).auto == {"max_moves_per_cycle": 2}


def test_the_package_exports_its_public_names() -> None:
    import planner.auto as auto

    assert all(getattr(auto, name, None) is not None for name in auto.__all__)
    assert {"run_cycle", "CycleResult", "AutoOptions", "parse_auto", "parse_window_option", "AUDIT_FILE",
            "cycle_lock", "read_audit", "library_apply", "cap_moves", "resolve_gates"} <= set(auto.__all__)
