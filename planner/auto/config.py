"""The `auto:` section of a spec: its schema, weekly time windows, and the `--window` option.

Owns: validating the section (unknown keys rejected, errors naming the file and the `auto.…` key path),
the `Window` model (days, start-end wall-clock time, IANA zone; crossing midnight) and `parse_window_option`.
Must not: read files, look at the clock (a window is asked about a given moment), or plan anything.
"""

from __future__ import annotations

import re
from datetime import datetime
from datetime import time as clock_time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from planner.errors import InputError
from planner.spec import describe_validation_error

_FULL_DAYS = {name: name[:3] for name in
              ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_TIME = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Model):
    """A weekly time window in which auto may act: `days`, `start`-`end` wall-clock time in `tz`.

    A window whose end is not after its start crosses midnight: it runs from `start` on each listed day to
    `end` on the next day (`fri 22:00-06:00` includes Saturday 03:00). `start == end` is the whole day.
    """

    days: tuple[Day, ...] = DAYS
    start: clock_time
    end: clock_time
    tz: str = "UTC"

    @field_validator("days", mode="before")
    @classmethod
    def _expand_days(cls, value: Any) -> Any:
        """`mon-fri`, `Monday`, `sat,sun`: names in any case, ranges (wrapping past Sunday) and lists."""
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple):
            return value
        out: list[Any] = []
        for item in value:
            if not isinstance(item, str):
                out.append(item)
                continue
            name = item.strip().lower()
            if "-" in name:
                first, _, last = (_day_name(p) for p in name.partition("-"))
                if first in DAYS and last in DAYS:
                    i, j = DAYS.index(first), DAYS.index(last)
                    out.extend(DAYS[(i + k) % 7] for k in range((j - i) % 7 + 1))
                    continue
            out.append(_day_name(name))
        if not out:
            raise ValueError("lists no day")
        return tuple(dict.fromkeys(out))

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse_time(cls, value: Any) -> Any:
        """"HH:MM" as a quoted string (YAML reads an unquoted 22:00 as the number 1320); "24:00" is midnight."""
        if isinstance(value, bool) or not isinstance(value, str):
            if isinstance(value, int):
                raise ValueError(f"write the time in quotes, e.g. \"22:00\" (YAML read it as the number {value})")
            raise ValueError(f"expected a time \"HH:MM\", got {value!r}")
        match = _TIME.match(value.strip())
        if not match or (match.group(1) == "24" and match.group(2) != "00"):
            raise ValueError(f"expected a time \"HH:MM\" (00:00 to 24:00), got {value!r}")
        hour, minute = int(match.group(1)), int(match.group(2))
        return clock_time(0, 0) if hour == 24 else clock_time(hour, minute)

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)") from exc
        return value

    def contains(self, moment: datetime) -> bool:
        """True when `moment` (time-zone aware) falls inside this window, in the window's own time zone."""
        local = moment.astimezone(ZoneInfo(self.tz))
        day, now = DAYS[local.weekday()], local.time().replace(tzinfo=None)
        yesterday = DAYS[(local.weekday() - 1) % 7]
        if self.start == self.end:
            return day in self.days
        if self.start < self.end:
            return day in self.days and self.start <= now < self.end
        return (day in self.days and now >= self.start) or (yesterday in self.days and now < self.end)

    def describe(self) -> str:
        """`mon,tue 22:00-06:00 Europe/Berlin`: the same syntax `--window` reads."""
        days = "daily" if set(self.days) == set(DAYS) else ",".join(self.days)
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M} {self.tz}"


def _day_name(text: str) -> str:
    text = text.strip().lower()
    return _FULL_DAYS.get(text, text)


class AutoConfig(_Model):
    """The validated `auto:` section of a spec; every key is optional."""

    min_improvement: Annotated[int, Field(ge=0, strict=True)] = 1
    max_moves_per_cycle: Annotated[int, Field(ge=1, strict=True)] | None = None
    windows: tuple[Window, ...] = ()
    freeze_file: str | None = None
    state_dir: str | None = None


def parse_auto(data: Any, *, source: str = "<spec>") -> AutoConfig:
    """Validate the `auto:` section; the first problem is an InputError naming the file and key (`auto.…`)."""
    if data is None:
        return AutoConfig()
    if not isinstance(data, dict):
        raise InputError(f"expected a mapping, got {type(data).__name__}", source=source, path="auto")
    try:
        return AutoConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        path, problem = describe_validation_error(errors[0])
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        key = "auto" if path == "(top level)" else f"auto.{path}"
        raise InputError(problem + more, source=source, path=key) from exc


def parse_window_option(text: str) -> Window:
    """`--window "mon-fri 22:00-06:00 Europe/Berlin"`: days (or `daily`), start-end, optional time zone."""
    parts = text.split()
    if len(parts) not in (2, 3) or parts[1].count("-") != 1:
        raise InputError(f"expected \"DAYS HH:MM-HH:MM [TZ]\", e.g. \"mon-fri 22:00-06:00 Europe/Berlin\"; "
                         f"got {text!r}", source="arguments", path="--window")
    start, end = parts[1].split("-")
    data: dict[str, Any] = {"start": start, "end": end}
    if parts[0].lower() not in ("daily", "*"):
        data["days"] = parts[0]
    if len(parts) == 3:
        data["tz"] = parts[2]
    try:
        return Window.model_validate(data)
    except ValidationError as exc:
        path, problem = describe_validation_error(exc.errors()[0])
        raise InputError(f"{path}: {problem}", source="arguments", path="--window") from exc

