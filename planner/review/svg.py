"""Charts as inline SVG text: horizontal bar charts, column charts and a wave timeline, with no dependency.

Owns: the geometry (rows, bars, axes, ticks, legends), shortening long labels (the whole label stays in a tooltip)
and escaping every text that reaches the SVG. An SVG here has no script, no link and no external reference, so
the report page that embeds it stays self-contained. Must not: know about plans (`charts` turns a plan into rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 960
LABEL_W = 250     # left column for row labels
RIGHT_PAD = 56    # room for the value after the longest bar
BAR_H = 11
BAR_GAP = 2
ROW_PAD = 9
TOP = 34          # legend band
AXIS_H = 38       # ticks and the axis label
GRID = "#e6e9ed"
TEXT = "#3e4c59"
MUTED = "#7b8794"


@dataclass(frozen=True)
class Segment:
    """Part of a stacked bar: `value` units in `color`; faded segments are drawn lighter (e.g. "before")."""

    value: int
    color: str
    title: str = ""
    faded: bool = False


@dataclass(frozen=True)
class Mark:
    """A vertical tick across a row at `value` (a target, a reserve)."""

    value: int
    color: str
    title: str


@dataclass(frozen=True)
class Row:
    """One row of a horizontal bar chart: its label, one or more (stacked) bars, marks."""

    label: str
    bars: tuple[tuple[Segment, ...], ...]
    marks: tuple[Mark, ...] = ()
    tip: str = ""  # the whole name, as a tooltip (default: the label)


@dataclass(frozen=True)
class Legend:
    label: str
    color: str
    kind: str = "bar"  # bar | faded | mark


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def short(name: str, limit: int = 36) -> str:
    """Shorten a long name in the middle so that both ends stay recognisable."""
    if len(name) <= limit:
        return name
    keep = (limit - 1) // 2
    return f"{name[:keep]}…{name[-(limit - 1 - keep):]}"


def nice_ticks(maximum: float, count: int = 6) -> list[int]:
    """Whole-number ticks from 0 covering `maximum`, about `count` of them, on a 1-2-5 step."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    step = 1
    while step < raw:
        for m in (2, 5, 10):
            if step * m >= raw:
                step *= m
                break
        else:
            step *= 10
    top = -(-int(maximum) // step) * step
    return list(range(0, top + 1, step))


def _open(width: int, height: int, title: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" font-family="-apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif" '
            f'font-size="11" fill="{TEXT}"><title>{esc(title)}</title>']


def _legend(items: Sequence[Legend], x0: int = LABEL_W) -> tuple[list[str], int]:
    """Legend entries on as many lines as they need above the plot; returns the elements and the band height."""
    out: list[str] = []
    x, y = x0, 16
    for item in items:
        span = 26 + 6 * len(item.label)
        if x > x0 and x + span > WIDTH:
            x, y = x0, y + 16
        if item.kind == "mark":
            out.append(f'<rect x="{x + 4}" y="{y - 9}" width="3" height="12" fill="{item.color}"/>')
        else:
            opacity = ' fill-opacity="0.45"' if item.kind == "faded" else ""
            out.append(f'<rect x="{x}" y="{y - 8}" width="11" height="10" fill="{item.color}"{opacity}/>')
        out.append(f'<text x="{x + 15}" y="{y}">{esc(item.label)}</text>')
        x += span
    return out, y + 18


def hbar_chart(rows: Sequence[Row], *, legend: Sequence[Legend], axis_label: str, title: str) -> str:
    """Rows of horizontal (stacked) bars with value labels, marks, a legend on top and an axis below."""
    row_h = [len(r.bars) * (BAR_H + BAR_GAP) + ROW_PAD for r in rows]
    legend_svg, top = _legend(legend)
    height = top + sum(row_h) + AXIS_H
    plot_w = WIDTH - LABEL_W - RIGHT_PAD
    top_value = max([1, *(sum(s.value for s in bar) for r in rows for bar in r.bars),
                     *(m.value for r in rows for m in r.marks)])
    ticks = nice_ticks(top_value)
    scale = plot_w / ticks[-1]
    out = _open(WIDTH, height, title)
    bottom = top + sum(row_h)
    for t in ticks:
        x = LABEL_W + t * scale
        out.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="{GRID}"/>')
        out.append(f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle" fill="{MUTED}">{t}</text>')
    out.append(f'<text x="{LABEL_W + plot_w / 2:.0f}" y="{bottom + 31}" text-anchor="middle" '
               f'fill="{MUTED}">{esc(axis_label)}</text>')
    out += legend_svg
    y = top
    for row, h in zip(rows, row_h, strict=True):
        out += _row(row, y, h, scale)
        y += h
    out.append("</svg>")
    return "".join(out)


def _row(row: Row, y: int, h: int, scale: float) -> list[str]:
    mid = y + (h - ROW_PAD) / 2 + ROW_PAD / 2
    out = [f'<text x="{LABEL_W - 8}" y="{mid + 4:.1f}" text-anchor="end"><title>{esc(row.tip or row.label)}</title>'
           f'{esc(short(row.label))}</text>']
    by = y + ROW_PAD / 2
    for bar in row.bars:
        x = float(LABEL_W)
        for seg in bar:
            if seg.value <= 0:
                continue
            w = seg.value * scale
            opacity = ' fill-opacity="0.45"' if seg.faded else ""
            tip = f"<title>{esc(seg.title)}</title>" if seg.title else ""
            out.append(f'<rect x="{x:.1f}" y="{by:.1f}" width="{w:.1f}" height="{BAR_H}" fill="{seg.color}"'
                       f'{opacity}>{tip}</rect>')
            x += w
        total = sum(s.value for s in bar)
        out.append(f'<text x="{x + 4:.1f}" y="{by + BAR_H - 2:.1f}" font-size="10" fill="{MUTED}">{total}</text>')
        by += BAR_H + BAR_GAP
    for mark in row.marks:
        x = LABEL_W + mark.value * scale
        out.append(f'<rect x="{x - 1.5:.1f}" y="{y + 2}" width="3" height="{h - 4}" fill="{mark.color}">'
                   f"<title>{esc(mark.title)}</title></rect>")
    return out


def column_chart(columns: Sequence[tuple[str, tuple[Segment, ...]]], *, legend: Sequence[Legend], x_label: str,
                 y_label: str, title: str, height: int = 260) -> str:
    """Vertical stacked columns, one per entry (e.g. nodes per wave), labels thinned so they never overlap."""
    left, plot_h = 56, height - TOP - AXIS_H
    plot_w = WIDTH - left - 20
    n = max(1, len(columns))
    ticks = nice_ticks(max([1, *(sum(s.value for s in segs) for _, segs in columns)]), 4)
    scale = plot_h / ticks[-1]
    slot = plot_w / n
    bottom = TOP + plot_h
    out = _open(WIDTH, height, title)
    for t in ticks:
        yy = bottom - t * scale
        out.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + plot_w}" y2="{yy:.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="{MUTED}">{t}</text>')
    every = max(1, -(-n // 24))
    for i, (label, segs) in enumerate(columns):
        x = left + i * slot + slot * 0.1
        yy = float(bottom)
        for seg in segs:
            if seg.value <= 0:
                continue
            h = seg.value * scale
            yy -= h
            tip = f"<title>{esc(seg.title)}</title>" if seg.title else ""
            out.append(f'<rect x="{x:.1f}" y="{yy:.1f}" width="{slot * 0.8:.1f}" height="{h:.1f}" '
                       f'fill="{seg.color}">{tip}</rect>')
        if i % every == 0:
            out.append(f'<text x="{x + slot * 0.4:.1f}" y="{bottom + 14}" text-anchor="middle" '
                       f'fill="{MUTED}">{esc(label)}</text>')
    out.append(f'<text x="{left + plot_w / 2:.0f}" y="{bottom + 31}" text-anchor="middle" '
               f'fill="{MUTED}">{esc(x_label)}</text>')
    out.append(f'<text x="14" y="{TOP + plot_h / 2:.0f}" text-anchor="middle" fill="{MUTED}" '
               f'transform="rotate(-90 14 {TOP + plot_h / 2:.0f})">{esc(y_label)}</text>')
    out += _legend(legend, left)[0]
    out.append("</svg>")
    return "".join(out)


def timeline(rows: Sequence[tuple[str, int, str, str]], waves: int, *, legend: Sequence[Legend], title: str) -> str:
    """One row per request, a bar in the column of its wave: (label, wave, color, tooltip)."""
    row_h = BAR_H + 2 * ROW_PAD - 4
    height = TOP + len(rows) * row_h + AXIS_H
    plot_w = WIDTH - LABEL_W - 20
    slot = plot_w / max(1, waves)
    bottom = TOP + len(rows) * row_h
    out = _open(WIDTH, height, title)
    for w in range(waves + 1):
        x = LABEL_W + w * slot
        out.append(f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{bottom}" stroke="{GRID}"/>')
    every = max(1, -(-waves // 16))
    for w in range(1, waves + 1, every):
        out.append(f'<text x="{LABEL_W + (w - 0.5) * slot:.1f}" y="{bottom + 14}" text-anchor="middle" '
                   f'fill="{MUTED}">wave {w}</text>')
    out += _legend(legend)[0]
    for i, (label, wave, color, tip) in enumerate(rows):
        y = TOP + i * row_h
        out.append(f'<text x="{LABEL_W - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end"><title>{esc(label)}'
                   f'</title>{esc(short(label, 40))}</text>')
        out.append(f'<rect x="{LABEL_W + (wave - 1) * slot + slot * 0.05:.1f}" y="{y + (row_h - BAR_H) / 2:.1f}" '
                   f'width="{slot * 0.9:.1f}" height="{BAR_H}" rx="2" fill="{color}"><title>{esc(tip)}</title></rect>')
    out.append("</svg>")
    return "".join(out)
