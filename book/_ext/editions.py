"""Sphinx extension for the course editions of the book (``tools/build_edition.py``).

- **Student edition** (``gantheory_remove_solutions = True``): every ``solution`` of
  sphinx-exercise is removed from the pages, the gated ``solution-start``/``solution-end`` form
  (with the code cells between) included. sphinx-exercise's own ``hide_solutions`` is not used:
  it drops the ``solution-start`` marker but leaves the gated solution's content on the page.
- **PDF** (any LaTeX builder): the HTML-only cell outputs become LaTeX-friendly nodes at build
  time, without re-executing anything. A plotly figure (a ``<div>`` and a ``Plotly.newPlot``
  call, see ``gantheory.plotting``) is rendered to a PNG with plotly + kaleido, driving the
  system's Chromium (``GANTHEORY_CHROMIUM`` or ``chromium`` on the PATH) with the local MathJax
  of ``django-static-mathjax``, and its title (``<p class="gantheory-figure-title">``) becomes
  the caption. HTML admonitions (``gantheory.plotting.Notice``, the chapters' claims box) become
  admonitions, pandas tables become tables, and any other HTML output its text. The MathJax
  macros of ``mathjax3_config`` are defined in the LaTeX preamble. The book's structure is the
  site's: a ``\\part`` per part of ``_toc.yml``, the preface and the prose pages as unnumbered
  chapters, the notebook chapters numbered as their titles ("1. Concentration of measure" is
  chapter 1); a ``{numref}`` to an exercise of another chapter is pointed at the exercise.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

logger = logging.getLogger(__name__)

FIGURE_WIDTH = 900  # px of the rendered plotly figure (the site's figures are responsive)
FIGURE_SCALE = 2  # PNG pixels per CSS pixel


# ----------------------------------------------------------------------------- student edition
class RemoveSolutions(SphinxTransform):
    """Drop every solution node (after sphinx-exercise merged the gated ones, priority 10)."""

    default_priority = 11

    def apply(self) -> None:
        if not self.config.gantheory_remove_solutions:
            return
        from sphinx_exercise.nodes import solution_node, solution_start_node

        for node in list(self.document.findall(solution_node)):
            node.parent.remove(node)
        if any(True for _ in self.document.findall(solution_start_node)):
            raise RuntimeError(f"{self.env.docname}: a solution-start was not merged")


# ----------------------------------------------------------------------------- LaTeX outputs
def _config_inited(app, config) -> None:
    # LaTeX takes no text/html by default: the plotly figures (HTML only) would silently vanish.
    # With text/html first, every HTML output reaches _static_outputs below.
    overrides = list(config.nb_mime_priority_overrides or [])
    overrides.append(("latex", "text/html", 5))
    config.nb_mime_priority_overrides = overrides
    macros = (config.mathjax3_config or {}).get("tex", {}).get("macros", {})
    if macros:
        defs = "".join(f"\\providecommand{{\\{name}}}{{}}\\renewcommand{{\\{name}}}{{{body}}}\n"
                       for name, body in macros.items())
        elements = dict(config.latex_elements or {})
        elements["preamble"] = elements.get("preamble", "") + "\n% mathjax3_config macros\n" + defs
        config.latex_elements = elements


def _chromium() -> str:
    path = os.environ.get("GANTHEORY_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not path:
        raise RuntimeError("the PDF's figures need Chromium: `make pdf-deps` installs Debian's "
                           "chromium; or set GANTHEORY_CHROMIUM=/path/to/chromium")
    return path


class _Renderer:
    """One kaleido server (a headless Chromium) for the whole build, started on first use."""

    def __init__(self) -> None:
        self.started = False
        self.count = 0  # figures rendered in this build
        self.figures = 0  # figures converted in this build (rendered or reused)

    def png(self, fig: dict, width: int, height: int) -> bytes:
        import kaleido

        if not self.started:
            import mathjax  # django-static-mathjax, also used by offline_assets

            tex_svg = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5" / "tex-svg.js"
            kaleido.start_sync_server(path=_chromium(), mathjax=tex_svg.as_uri(), n=1,
                                      timeout=120, silence_warnings=True)
            self.started = True
        self.count += 1
        return kaleido.calc_fig_sync(fig, opts={"format": "png", "width": width,
                                                "height": height, "scale": FIGURE_SCALE})

    def stop(self) -> None:
        if self.started:
            import kaleido

            kaleido.stop_sync_server(silence_warnings=True)
            self.started = False


_RENDERER = _Renderer()


def _plotly_args(text: str) -> tuple[dict, dict]:
    """(data, layout) of the ``Plotly.newPlot(id, data, layout, config)`` call in ``text``."""
    start = text.index("Plotly.newPlot(") + len("Plotly.newPlot(")
    decoder = json.JSONDecoder()
    values, pos = [], start
    while len(values) < 3:
        while text[pos] in " \t\r\n,":
            pos += 1
        value, pos = decoder.raw_decode(text, pos)
        values.append(value)
    _div_id, data, layout = values
    return data, layout


def _plain(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _plotly_figure(app, text: str) -> nodes.Node:
    data, layout = _plotly_args(text)
    m = re.search(r'<p class="gantheory-figure-title">(.*?)</p>', text, re.S)
    title = _plain(m.group(1)) if m else _plain(str((layout.get("title") or {}).get("text", ""))
                                                   if isinstance(layout.get("title"), dict)
                                                   else str(layout.get("title") or ""))
    width = int(layout.get("width") or FIGURE_WIDTH)
    height = int(layout.get("height") or 450)
    fig = {"data": data, "layout": {**layout, "width": width, "height": height}}
    key = hashlib.sha1(json.dumps(fig, sort_keys=True).encode()).hexdigest()[:16]
    rel = f"figures/plotly-{key}.png"
    path = Path(app.outdir) / rel
    if not path.exists():  # the PNG depends on the figure only: rebuilds reuse it
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_RENDERER.png(fig, width, height))
    _RENDERER.figures += 1
    figure = nodes.figure(classes=["gantheory-static-figure"])
    figure += nodes.image(uri=rel, candidates={"*": rel}, width="100%", alt=title or "figure")
    if title:
        figure += nodes.caption(title, title)
    return figure


class _HtmlToNodes(HTMLParser):
    """A small HTML subset (p, ul/ol/li, strong/b, em/i, code, a, br, sub/sup, div) to
    docutils nodes; other tags keep only their text."""

    INLINE = {"strong": nodes.strong, "b": nodes.strong, "em": nodes.emphasis,
              "i": nodes.emphasis, "code": nodes.literal}

    def __init__(self, root: nodes.Element) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[nodes.Element] = [root]
        self.title: str | None = None
        self._in_title = False

    def _block(self) -> nodes.Element:
        top = self.stack[-1]
        if isinstance(top, (nodes.TextElement, nodes.Inline)):
            return top
        para = nodes.paragraph()
        top += para
        self.stack.append(para)
        return para

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "p":
            while isinstance(self.stack[-1], (nodes.TextElement, nodes.Inline)):
                self.stack.pop()
            if "admonition-title" in (attrs.get("class") or ""):
                self._in_title, self.title = True, ""
                return
            para = nodes.paragraph()
            self.stack[-1] += para
            self.stack.append(para)
        elif tag in ("ul", "ol"):
            while isinstance(self.stack[-1], (nodes.TextElement, nodes.Inline)):
                self.stack.pop()
            lst = nodes.bullet_list() if tag == "ul" else nodes.enumerated_list()
            self.stack[-1] += lst
            self.stack.append(lst)
        elif tag == "li":
            item = nodes.list_item()
            self.stack[-1] += item
            self.stack.append(item)
        elif tag in self.INLINE and not self._in_title:
            node = self.INLINE[tag]()
            self._block().append(node)
            self.stack.append(node)
        elif tag == "br":
            self.handle_data(" ")

    def handle_endtag(self, tag):
        if tag == "p" and self._in_title:
            self._in_title = False
            return
        wanted = {"p": nodes.paragraph, "ul": nodes.bullet_list, "ol": nodes.enumerated_list,
                  "li": nodes.list_item}.get(tag) or self.INLINE.get(tag)
        if wanted is None:
            return
        for i in range(len(self.stack) - 1, 0, -1):
            if isinstance(self.stack[i], wanted):
                del self.stack[i:]
                return

    def handle_data(self, data):
        if self._in_title:
            self.title += data
            return
        if not data.strip() and not isinstance(self.stack[-1], (nodes.TextElement, nodes.Inline)):
            return
        self._block().append(nodes.Text(data))


def _admonition(text: str) -> nodes.Node:
    m = re.search(r'<div class="admonition ([^"]*)"', text)
    kind = (m.group(1).split() or ["note"])[0] if m else "note"
    body = nodes.container()
    parser = _HtmlToNodes(body)
    parser.feed(text)
    parser.close()
    title = " ".join((parser.title or kind.capitalize()).split())
    adm = nodes.admonition(classes=[f"admonition-{kind}", kind])
    adm += nodes.title(title, title)
    adm += body.children
    return adm


class _TableRows(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[tuple[bool, list[str]]] = []  # (in thead, cells)
        self._thead = False
        self._cell: list[str] | None = None
        self._span = 1

    def handle_starttag(self, tag, attrs):
        if tag == "thead":
            self._thead = True
        elif tag == "tr":
            self.rows.append((self._thead, []))
        elif tag in ("td", "th") and self.rows:
            self._cell = []
            self._span = int(dict(attrs).get("colspan") or 1)

    def handle_endtag(self, tag):
        if tag == "thead":
            self._thead = False
        elif tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1][1].append(" ".join("".join(self._cell).split()))
            self.rows[-1][1].extend([""] * (self._span - 1))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _table(text: str) -> nodes.Node | None:
    parser = _TableRows()
    parser.feed(text)
    parser.close()
    rows = [(head, cells) for head, cells in parser.rows if cells]
    if not rows:
        return None
    ncols = max(len(cells) for _, cells in rows)
    table = nodes.table(classes=["gantheory-table"])
    group = nodes.tgroup(cols=ncols)
    table += group
    for _ in range(ncols):
        group += nodes.colspec(colwidth=1)
    sections = {True: nodes.thead(), False: nodes.tbody()}
    for head, cells in rows:
        row = nodes.row()
        for cell in cells + [""] * (ncols - len(cells)):
            entry = nodes.entry()
            entry += nodes.paragraph(cell, cell)
            row += entry
        sections[head] += row
    if sections[True].children:
        group += sections[True]
    group += sections[False]
    return table


def _is_cell_output(node: nodes.raw) -> bool:
    return "html" in node.get("format", "").split() and "text_html" in node.get("classes", [])


def _latex(text: str) -> nodes.raw:
    return nodes.raw("", text, format="latex")


def _tex_text(text: str) -> str:
    return re.sub(r"([\\{}#$%&_^~])", r"\\\1", text)


def _parts(app, doctree) -> None:
    r"""A ``\part`` before each captioned toctree of the root document (the book's parts), read
    when the LaTeX builder reads the root document (before the toctrees are inlined)."""
    if app.builder.format != "latex" or app.env.docname != app.config.root_doc:
        return
    from sphinx import addnodes

    for toctree in list(doctree.findall(addnodes.toctree)):
        caption = toctree.get("caption")
        if not caption:
            continue
        anchor = toctree.parent if isinstance(toctree.parent, nodes.compound) else toctree
        part = _latex(f"\\part{{{_tex_text(caption)}}}\n")
        anchor.parent.insert(anchor.parent.index(anchor), part)


def _flatten_sections(section: nodes.section) -> list[nodes.Node]:
    """A section's content with its title as a rubric (nested sections alike)."""
    out: list[nodes.Node] = []
    for child in section.children:
        if isinstance(child, nodes.title):
            out.append(nodes.rubric(child.astext(), child.astext()))
        elif isinstance(child, nodes.section):
            out.extend(_flatten_sections(child))
        else:
            out.append(child)
    return out


def _chapters(app, doctree, docname) -> None:
    """Chapters as in the site: the preface (root document) unnumbered with its sections as
    rubrics (Sphinx's LaTeX writer drops the root title and would make each of its sections a
    chapter), the prose pages unnumbered, the notebook chapters "N. Title" numbered N."""
    if docname != app.config.root_doc:
        return
    from sphinx import addnodes

    root = doctree.next_node(nodes.section)
    if root is None or not isinstance(root.children[0], nodes.title):
        return
    title = _tex_text(root.children[0].astext())
    for child in list(root.children[1:]):
        if isinstance(child, nodes.section):
            root.replace(child, _flatten_sections(child))
    root.insert(1, _latex("\\setcounter{secnumdepth}{-1}\n"
                          f"\\chapter*{{{title}}}\\addcontentsline{{toc}}{{chapter}}{{{title}}}\n"))
    for sof in doctree.findall(addnodes.start_of_file):
        section = next((c for c in sof.children if isinstance(c, nodes.section)), None)
        if section is None or not isinstance(section.children[0], nodes.title):
            continue
        head = section.children[0]
        m = re.match(r"(\d+)\.\s+", head.astext())
        if m:
            number = int(m.group(1))
            first = head.children[0]
            if isinstance(first, nodes.Text) and first.startswith(m.group(0)):
                head.replace(first, nodes.Text(str(first)[len(m.group(0)):]))
            sof.insert(sof.index(section), _latex(
                f"\\setcounter{{secnumdepth}}{{2}}\\setcounter{{chapter}}{{{number - 1}}}\n"))
        else:
            sof.insert(sof.index(section), _latex("\\setcounter{secnumdepth}{-1}\n"))


def _exercise_numrefs(app, doctree) -> None:
    """A ``{numref}`` to an exercise of another chapter: sphinx-exercise labels exercises
    ``exercise:<label>`` in LaTeX, Sphinx's numref points at ``<doc>:<label>`` (an unresolved
    "Exercise ??"). Point it at sphinx-exercise's label, with the number Sphinx resolved."""
    from sphinx import addnodes
    from sphinx_exercise.nodes import exercise_enumerable_node, exercise_latex_number_reference

    registry = getattr(app.env, "sphinx_exercise_registry", {})
    for ref in list(doctree.findall(addnodes.number_reference)):
        label = (ref.get("refid") or ref.get("refuri", "").rsplit("#", 1)[-1])
        target = registry.get(label, {}).get("node")
        if isinstance(target, exercise_enumerable_node):
            new = exercise_latex_number_reference(refid=label)
            new += nodes.Text(ref.astext())
            ref.replace_self(new)


def _static_outputs(app, doctree, docname) -> None:
    if app.builder.format != "latex":
        return
    _chapters(app, doctree, docname)
    _exercise_numrefs(app, doctree)
    for node in list(doctree.findall(nodes.raw)):
        if not _is_cell_output(node):
            continue
        text = node.astext()
        if "Plotly.newPlot(" in text:
            new = _plotly_figure(app, text)
        elif re.search(r'<div class="admonition\b', text):
            new = _admonition(text)
        elif "<table" in text:
            new = _table(text) or nodes.paragraph(text=_plain(text))
        else:
            plain = _plain(text)
            new = nodes.paragraph(plain, plain) if plain else None
        if new is None:
            node.parent.remove(node)
        else:
            node.replace_self(new)


def _build_finished(app, exception) -> None:
    _RENDERER.stop()
    if app.builder.format == "latex" and exception is None:
        logger.info(f"editions: {_RENDERER.figures} plotly figures as static images "
                    f"({_RENDERER.count} rendered, the others reused)")


def setup(app):
    app.add_config_value("gantheory_remove_solutions", False, "env")
    app.add_transform(RemoveSolutions)
    app.connect("config-inited", _config_inited)
    app.connect("doctree-read", _parts)
    app.connect("doctree-resolved", _static_outputs)
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": False, "version": "1.0"}
