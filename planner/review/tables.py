"""Plain-text and Markdown tables: the one table code of every report (no third-party dependency)."""

from __future__ import annotations

from collections.abc import Sequence

Cell = str | int | float | None


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


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, numeric: Sequence[bool] = ()) -> str:
    """A fixed-width table; columns flagged in `numeric` are right-aligned."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    right = [i < len(numeric) and numeric[i] for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(widths[i]) if right[i] else v.ljust(widths[i]) for i, v in enumerate(values)]
        return "  ".join(parts).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def md_escape(text: str) -> str:
    """Escape the characters that would break a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, numeric: Sequence[bool] = ()) -> str:
    """A GitHub-flavoured Markdown table; columns flagged in `numeric` are right-aligned."""
    align = ["---:" if i < len(numeric) and numeric[i] else "---" for i in range(len(headers))]
    out = ["| " + " | ".join(md_escape(h) for h in headers) + " |", "| " + " | ".join(align) + " |"]
    out.extend("| " + " | ".join(md_escape(fmt(c)) for c in row) + " |" for row in rows)
    return "\n".join(out)
