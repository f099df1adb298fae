"""Sphinx extension: author-year labels in the bibliography, matching the citations.

The text cites in author-year form (``bibtex_reference_style: author_year``: "Seddik et al.,
2020"). pybtex's ``plain`` style would still label the bibliography's entries [1] to [36],
numbers that the text never uses. The formatting style ``authoryear`` registered here is
``plain`` with labels "Seddik et al., 2020" (one author: "Villani, 2009"; two: "Biau and
Sangnier, 2021"; three or more: first author "et al."), with "a", "b", ... appended to the year
when two entries would share a label. Select it with ``bibtex_default_style: authoryear``.
"""

from __future__ import annotations

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _last_name(person) -> str:
    text = " ".join(person.prelast_names + person.last_names)
    return str(Text.from_latex(text)) if text else "Anonymous"


def author_year(entry) -> str:
    """``"Last, Year"``, ``"Last and Last, Year"`` or ``"Last et al., Year"`` for one entry."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_last_name(p) for p in people]
    if not names:
        who = entry.fields.get("organization") or entry.fields.get("title", "Anonymous")
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    year = entry.fields.get("year", "n.d.")
    return f"{who}, {year}"


class AuthorYearLabelStyle(BaseLabelStyle):
    """Author-year labels, made unique with a, b, ... after the year."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [author_year(e) for e in entries]
        counts = Counter(labels)
        seen: Counter = Counter()
        for label in labels:
            if counts[label] > 1:
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label]]
                seen[label] += 1
            else:
                yield label


class AuthorYearStyle(PlainStyle):
    """pybtex's plain style with :class:`AuthorYearLabelStyle` labels."""

    default_label_style = AuthorYearLabelStyle


register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)


def setup(app):
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
