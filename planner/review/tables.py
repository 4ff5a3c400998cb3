"""Plain-text and Markdown tables: the one table code of every report (no third-party dependency).

Owns: how a cell is written (`fmt`), Markdown escaping (a name or title from a plan is text, never Markdown or
HTML: `md_escape`, `md_code`), and fitting a text table into a terminal width (long cells wrap; when wrapping is not
enough, the columns the caller marks as droppable are hidden, with a note saying so). Must not: print.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

Cell = str | int | float | None

COLUMN_GAP = 2
MIN_WRAP = 12  # a wrapped column keeps at least this many characters (or its header's) ...
WORD_WRAP = 24  # ... and its longest word, up to this many characters, so that names are not broken


class Md(str):
    """A Markdown table cell that is already Markdown (its parts escaped by `md_escape` / `md_code`)."""

    __slots__ = ()


def fmt(value: Cell) -> str:
    """A cell as text: None is a dash, whole floats lose their `.0`, other floats keep two decimals."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.2f}"
    return str(value)


def numeric_columns(rows: Sequence[Sequence[Cell]], width: int) -> list[bool]:
    """Which columns hold only numbers (or blanks): those are right-aligned."""
    return [bool(rows) and all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) for i in range(width)]


def signed(value: int) -> str:
    """A change as `+3`, `-2` or `0`."""
    return f"{value:+d}" if value else "0"


# -- text ------------------------------------------------------------------------------------------------------


def _natural_widths(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> list[int]:
    widths = [len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    return widths


def _total(widths: Sequence[int]) -> int:
    return sum(widths) + COLUMN_GAP * (len(widths) - 1)


def _fit(widths: list[int], floor: Sequence[int], wrappable: Sequence[bool], limit: int) -> list[int]:
    """Narrow the widest wrappable columns until the table fits `limit` (or no column can give more)."""
    out = list(widths)
    while _total(out) > limit:
        candidates = [i for i, w in enumerate(out) if wrappable[i] and w > floor[i]]
        if not candidates:
            break
        i = max(candidates, key=lambda k: (out[k], -k))
        others = sorted((out[k] for k in candidates if k != i), reverse=True)
        target = max(floor[i], out[i] - (_total(out) - limit), others[0] if others else 0)
        out[i] = target if target < out[i] else out[i] - 1
    return out


def _wrap(text: str, width: int) -> list[str]:
    if len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, numeric: Sequence[bool] = (),
               width: int | None = None, wrap: Sequence[int] | None = None, droppable: Sequence[int] = ()) -> str:
    """A fixed-width table; columns flagged in `numeric` are right-aligned.

    With `width`, the table fits in that many characters: the `wrap` columns (default: every text column) wrap at
    spaces (inside a word only when the word alone is too long); if that is not enough, the `droppable` columns are
    hidden in the order given and a last line names them; then any text column wraps. Without `width` every cell
    is written on one line.
    """
    right = [i < len(numeric) and numeric[i] for i in range(len(headers))]
    keep = list(range(len(headers)))
    cells = [[fmt(c) for c in row] for row in rows]
    widths = _natural_widths(headers, cells)
    if width is not None:
        floor = [max(MIN_WRAP, len(h), min(WORD_WRAP, max((len(w) for r in cells for w in r[i].split()), default=0)))
                 for i, h in enumerate(headers)]
        widths, keep = _layout(widths, floor, right, width, wrap, droppable)
    hidden = [headers[i] for i in range(len(headers)) if i not in keep]

    def lines(values: Sequence[str]) -> list[str]:
        parts = [_wrap(values[i], widths[i]) for i in keep]
        height = max(len(p) for p in parts)
        out = []
        for j in range(height):
            row = [(p[j] if j < len(p) else "") for p in parts]
            out.append("  ".join(v.rjust(widths[i]) if right[i] else v.ljust(widths[i])
                                 for i, v in zip(keep, row, strict=True)).rstrip())
        return out

    out = lines(list(headers)) + lines(["-" * widths[i] for i in range(len(headers))])
    for row in cells:
        out.extend(lines(row))
    if hidden:
        note = f"(not shown to fit {width} columns: {', '.join(hidden)}; --wide shows every column)"
        out += textwrap.wrap(note, width) if width else [note]
    return "\n".join(out)


def _layout(widths: list[int], floor: Sequence[int], right: Sequence[bool], limit: int,
            wrap: Sequence[int] | None, droppable: Sequence[int]) -> tuple[list[int], list[int]]:
    """Column widths and the columns kept, so that the table fits `limit` characters where it can."""
    preferred = [not right[i] and (wrap is None or i in wrap) for i in range(len(widths))]
    keep = list(range(len(widths)))
    for column in [*droppable, None]:
        sub = [widths[i] for i in keep]
        fitted = _fit(sub, [floor[i] for i in keep], [preferred[i] for i in keep], limit)
        if _total(fitted) <= limit:
            break
        if column is None:  # last resort: every text column wraps, down to MIN_WRAP
            fitted = _fit(fitted, [MIN_WRAP] * len(keep), [not right[i] for i in keep], limit)
            break
        keep.remove(column)
    out = [0] * len(widths)
    for i, w in zip(keep, fitted, strict=True):
        out[i] = w
    return out, keep


# -- Markdown --------------------------------------------------------------------------------------------------

_MD_ESCAPES = str.maketrans({
    "\\": "\\\\", "|": "\\|", "\n": " ", "\r": " ",
    "&": "&amp;", "<": "&lt;",                    # raw HTML in a name is shown, never run (issue 17.7)
    "[": "\\[", "]": "\\]",                       # no links or images made of names
    "`": "\\`",                                  # no code span swallowing the rest of a cell
})


def md_escape(text: str) -> str:
    """Text for Markdown: shown as written, never read as HTML, a link, an image or a table column break."""
    return text.translate(_MD_ESCAPES)


_NOT_IN_CODE = set("`<>&|\\\n\r")


def md_code(text: str) -> str:
    """A name as inline code (`name`); a name a code span would not show as written (a backtick, HTML, a pipe, a
    line break) as escaped text instead."""
    if not text or text.strip() != text or _NOT_IN_CODE & set(text):
        return md_escape(text)
    return f"`{text}`"


def md_cell(value: Cell) -> str:
    """A table cell: `Md` cells are already Markdown; anything else is escaped text."""
    return value if isinstance(value, Md) else md_escape(fmt(value))


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, numeric: Sequence[bool] = ()) -> str:
    """A GitHub-flavoured Markdown table; columns flagged in `numeric` are right-aligned."""
    align = ["---:" if i < len(numeric) and numeric[i] else "---" for i in range(len(headers))]
    out = ["| " + " | ".join(md_escape(h) for h in headers) + " |", "| " + " | ".join(align) + " |"]
    out.extend("| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows)
    return "\n".join(out)
