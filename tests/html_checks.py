"""Checks on the built book's HTML: tables render as tables, and printed table cells stay legible.

A Markdown table displayed from a cell's output (``display(Markdown(...))``) is parsed by MyST-NB as
CommonMark by default, which has no tables: it reaches the page as a paragraph of pipes, and Sphinx's
smart quotes then turn its ``---`` separator row into em dashes. :func:`page_problems` finds such
paragraphs, table cells that print a number with more than 3 decimals (``18.550000``), and table cells
that pandas truncated (a ``...`` column or row, or a cell cut short to ``2.0: 16...``).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

# a paragraph that starts with a pipe and has at least two more, or holds a separator row of a pipe table
# (dashes, or the en/em dashes that smart quotes make of them)
PIPE_ROW = re.compile(r"^\|[^|]*\|[^|]*\|")
SEPARATOR = re.compile(r"\|\s*:?(?:-{3,}|[\u2013\u2014]+-*):?\s*\|")
# a number with more than 3 decimals, not inside a longer token (a version, a hash)
LONG_DECIMAL = re.compile(r"(?<![\w.])[-+]?\d+\.\d{4,}")


class _Texts(HTMLParser):
    """Collects the text of every ``<p>``, ``<td>`` and ``<th>`` element, nested ones included."""

    TAGS = ("p", "td", "th")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open: list[list] = []  # [tag, pieces] of the elements being read
        self.found: list[tuple[str, str]] = []  # (tag, text) in document order

    def handle_starttag(self, tag, attrs):
        if tag in self.TAGS:
            self.open.append([tag, []])

    def handle_endtag(self, tag):
        if tag in self.TAGS and any(t == tag for t, _ in self.open):
            while self.open:  # close the innermost element of this tag (and any left unclosed in it)
                t, pieces = self.open.pop()
                self.found.append((t, " ".join("".join(pieces).split())))
                if t == tag:
                    break

    def handle_data(self, data):
        for _, pieces in self.open:
            pieces.append(data)


def page_problems(html: str, page: str) -> list[str]:
    """The problems of one built page: paragraphs that are raw pipe tables, table cells that print a
    number with more than 3 decimals, and truncated table cells. Each is named by ``page`` and the
    offending text.

    >>> page_problems("<p>| a | b |</p><table><tr><td>18.550000</td></tr></table>", "x")[0]
    "x: a Markdown table printed as text: '| a | b |'"
    """
    parser = _Texts()
    parser.feed(html)
    parser.close()
    problems = []
    for tag, text in parser.found:
        if tag == "p" and (PIPE_ROW.search(text) or SEPARATOR.search(text)):
            problems.append(f"{page}: a Markdown table printed as text: {text[:160]!r}")
        elif tag in ("td", "th") and text.endswith("..."):
            problems.append(f"{page}: a truncated table cell (pandas' display limits): {text[:160]!r}")
        elif tag in ("td", "th") and (m := LONG_DECIMAL.search(text)):
            problems.append(f"{page}: a table cell prints {m.group()} (more than 3 decimals): {text[:160]!r}")
    return problems


def book_problems(html_dir: Path) -> list[str]:
    """:func:`page_problems` of every page of the book's chapters (``html_dir/book/*.html``)."""
    return [p for page in sorted((Path(html_dir) / "book").glob("*.html"))
            for p in page_problems(page.read_text(encoding="utf-8"), page.stem)]
