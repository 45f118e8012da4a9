"""Tables as cells and footnotes, rendered for the terminal (rich), Markdown, CSV or HTML.

Nothing here knows a suite: :mod:`fnbench.report.runs` fills a TextTable from a run with the
columns of :mod:`fnbench.report.columns`.
"""

from __future__ import annotations

import csv
import html
import io
import math
from dataclasses import dataclass, field
from typing import Any

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

#: How a column's cells behave: ``text`` wraps at spaces and folds longer words, ``words`` wraps
#: at spaces only, ``fixed`` never wraps (left-aligned), ``number`` never wraps (right-aligned).
KINDS = ("text", "words", "fixed", "number")


@dataclass
class TextTable:
    """Headers, string cells and footnotes: one table, four renderings.

    ``status`` lines (the run's status, what did not run) come first; ``drop_order`` names the
    columns a narrow terminal may leave out, first dropped first; ``kinds`` says how each
    column's cells wrap and align (see :data:`KINDS`; default ``number``). ``keys`` and
    ``values`` are the CSV's header and unformatted values (default: the headers and cells).
    """

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    drop_order: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    values: list[list[Any]] = field(default_factory=list)

    def kind(self, index: int) -> str:
        return self.kinds[index] if index < len(self.kinds) else "number"


def missing(value: Any) -> bool:
    """None or NaN: no number."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(value: Any, digits: int = 2, scale: float = 1.0) -> str:
    """A number scaled and rounded, or an en dash when there is none."""
    if missing(value):
        return "–"
    return f"{float(value) * scale:,.{digits}f}"


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


def _compact_width(table: TextTable, index: int) -> int:
    """The narrowest width that splits no number: the widest cell (the longest word in a text
    column), or the longest word of the header."""
    text = table.kind(index) in ("text", "words")
    cells = [_longest_word(row[index]) if text else cell_len(row[index]) for row in table.rows]
    return max([_longest_word(table.columns[index])] + cells)


def _fitting_columns(table: TextTable, width: int | None) -> tuple[list[int], list[int] | None]:
    """Indexes of the columns to show in ``width`` cells, and their widths (None: natural).

    Columns of ``drop_order`` go first dropped first until the rest fits; then any dropped one
    that still fits comes back, most important first.
    """
    every = list(range(len(table.columns)))
    natural = [max(cell_len(cell) for cell in [table.columns[i]] + [r[i] for r in table.rows])
               for i in every]
    compact = [_compact_width(table, i) for i in every]
    fits = lambda shown, widths: sum(widths[i] + 3 for i in shown) + 1 <= width  # noqa: E731
    if width is None or fits(every, natural):
        return every, None
    droppable = [table.columns.index(c) for c in table.drop_order if c in table.columns]
    shown, dropped = set(every), []
    for index in droppable:
        if fits(shown, compact):
            break
        shown.discard(index)
        dropped.append(index)
    for index in reversed(dropped):
        if fits(shown | {index}, compact):
            shown.add(index)
    spare = width - sum(compact[i] + 3 for i in shown) - 1
    for index in sorted(shown):  # text columns wrap less with what is left over
        grow = max(0, min(spare, natural[index] - compact[index]))
        compact[index] += grow
        spare -= grow
    return sorted(shown), [compact[i] for i in sorted(shown)]


def render_rich(table: TextTable, width: int | None = None,
                complete_in: str = "results.md and results.csv in the run directory have"
                ) -> Table:
    """A rich Table for a terminal ``width`` cells wide (None: any width).

    Every string is plain text, never markup. When the whole table does not fit, the columns
    of ``drop_order`` are left out until it does, and the caption says which (and, after
    ``complete_in``, where every column is); each column is then as wide as its widest number,
    so no number is ever wrapped or folded.
    """
    shown, widths = _fitting_columns(table, width)
    notes = list(table.notes)
    dropped = [c for i, c in enumerate(table.columns) if i not in shown]
    if dropped:
        notes.append(f"not shown at this width: {', '.join(dropped)} ({complete_in} every "
                     "column)")
    out = Table(title=Text(table.title), caption=Text("\n".join(notes)) if notes else None,
                caption_justify="left")
    for position, index in enumerate(shown):
        kind = table.kind(index)
        out.add_column(Text(table.columns[index]),
                       justify="right" if kind == "number" else "left",
                       overflow="fold" if kind == "text" else "ellipsis",
                       width=widths[position] if widths else None)
    for row in table.rows:
        out.add_row(*(Text(row[i]) for i in shown))
    return out


def render_markdown(table: TextTable) -> str:
    """A GitHub-flavoured Markdown table with its title, the run's status and footnotes."""
    escape = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = [f"# {table.title}", ""]
    for line in table.status:
        lines += [line, ""]
    lines += ["| " + " | ".join(map(escape, table.columns)) + " |",
              "|" + "|".join("---" for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(map(escape, row)) + " |" for row in table.rows]
    if table.notes:
        lines.append("")
        lines += [f"- {note}" for note in table.notes]
    return "\n".join(lines) + "\n"


def render_csv(table: TextTable) -> str:
    """The rows as CSV: ``keys`` as the header, unformatted ``values`` (empty where none);
    title, status and notes are left out."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.keys or table.columns)
    for row in table.values or table.rows:
        writer.writerow("" if missing(value) else value for value in row)
    return out.getvalue()


_STYLE = ("body{font-family:sans-serif}table{border-collapse:collapse}"
          "th,td{border:1px solid #ccc;padding:2px 6px}td.number{text-align:right}"
          ".status{font-weight:bold}")


def render_html(table: TextTable) -> str:
    """A standalone HTML page: title, status, the table and its footnotes, every string
    escaped."""
    esc = lambda s: html.escape(str(s), quote=True)  # noqa: E731
    kinds = [table.kind(i) for i in range(len(table.columns))]
    lines = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{esc(table.title)}</title>", f"<style>{_STYLE}</style>", "</head>",
             "<body>", f"<h1>{esc(table.title)}</h1>"]
    lines += [f'<p class="status">{esc(line)}</p>' for line in table.status]
    lines += ["<table>", "<thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in table.columns)
              + "</tr></thead>", "<tbody>"]
    lines += ["<tr>" + "".join(f'<td class="{kind}">{esc(cell)}</td>'
                               for kind, cell in zip(kinds, row)) + "</tr>"
              for row in table.rows]
    lines += ["</tbody>", "</table>"]
    if table.notes:
        lines += ["<ul>"] + [f"<li>{esc(note)}</li>" for note in table.notes] + ["</ul>"]
    return "\n".join(lines + ["</body>", "</html>"]) + "\n"
