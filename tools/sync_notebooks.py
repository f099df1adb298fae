"""Write (or check) each chapter's ``.ipynb`` from its MyST ``.md``, in plain Markdown.

The ``notebooks/NN_*.md`` files are the source of truth (MyST: theorem boxes, exercises,
citations, cross-references, glued numbers); the book builds from them. The committed
``notebooks/NN_*.ipynb`` files are what Colab, Binder's launch buttons and GitHub open, and
Colab cannot render MyST. So each ``.ipynb`` is *generated*: the ``.md`` is read with jupytext,
its code cells (sources and tags) are kept as they are, and every markdown cell is rewritten by
:func:`degrade` into plain Markdown (theorem boxes become quotes with a bold heading, solutions
collapsed ``<details>``, citations author-year text, references text or links, glued numbers a
``⟨name⟩`` placeholder). Nothing is paired: never run ``jupytext --sync`` on these files.

    python tools/sync_notebooks.py            # rewrite every .ipynb (``make sync``)
    python tools/sync_notebooks.py --check    # exit 1 listing the .ipynb that are stale
    python tools/sync_notebooks.py notebooks/01_concentration.md   # one chapter
"""

from __future__ import annotations

import argparse
import codecs
import copy
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BIB = ROOT / "book" / "references.bib"

# sphinx-proof's theorem-like directives (``prf:proof`` is handled apart).
PRF_KINDS = {
    "theorem", "proposition", "lemma", "corollary", "definition", "remark", "assumption",
    "conjecture", "example", "axiom", "criterion", "algorithm", "observation", "property",
    "notation",
}
ADMONITIONS = {"note", "warning", "tip", "hint", "important", "caution", "attention", "danger",
               "error", "seealso"}
QUOTED = {"epigraph", "margin", "sidebar", "topic", "pull-quote", "highlights"}

FENCE_RE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>:{3,}|`{3,}|~{3,})(?P<info>.*)$")
DIRECTIVE_RE = re.compile(r"^\{(?P<name>[\w:-]+)\}\s*(?P<arg>.*)$")
OPTION_RE = re.compile(r"^\s*:(?P<key>[\w-]+):\s*(?P<value>.*)$")
TARGET_RE = re.compile(r"^\s*\((?P<label>[^()\s]+)\)=\s*$")
MATH_LABEL_RE = re.compile(r"^(?P<head>.*\$\$)\s*\((?P<label>[\w:.-]+)\)\s*$")
# A role, or a code span (left as it is), whichever starts first.
INLINE_RE = re.compile(
    r"\{(?P<role>[\w:-]+)\}`(?P<content>[^`]*)`|(?P<code>(?P<ticks>`+).+?(?P=ticks))", re.DOTALL)
EXPLICIT_RE = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)


class MystError(ValueError):
    """A MyST construct that this tool does not know how to write as plain Markdown."""


# ---------------------------------------------------------------------- bibliography
def _latex_to_text(value: str) -> str:
    import latexcodec  # noqa: F401 - registers the "ulatex" codec (a pybtex dependency)

    text = codecs.decode(value, "ulatex")
    return re.sub(r"\s+", " ", text.replace("{", "").replace("}", "")).strip()


@dataclass
class Entry:
    authors: list[str]  # last names
    year: str
    title: str = ""
    venue: str = ""

    def names(self) -> str:
        if not self.authors:
            return "Anonymous"
        if len(self.authors) == 1:
            return self.authors[0]
        if len(self.authors) == 2:
            return f"{self.authors[0]} and {self.authors[1]}"
        return f"{self.authors[0]} et al."


def load_bib(path: Path = BIB) -> dict[str, Entry]:
    """Author last names, year, title and venue of each entry of a .bib file (via pybtex)."""
    from pybtex.database import parse_file

    entries = {}
    for key, e in parse_file(str(path)).entries.items():
        people = e.persons.get("author") or e.persons.get("editor") or []
        last = [_latex_to_text(" ".join(p.prelast_names + p.last_names)) for p in people]
        f = e.fields
        venue = f.get("journal") or f.get("booktitle") or f.get("publisher") or f.get("school") \
            or (f"arXiv:{f['eprint']}" if "eprint" in f else "")
        entries[key] = Entry(last, f.get("year", "n.d."), _latex_to_text(f.get("title", "")),
                             _latex_to_text(venue))
    return entries


# ---------------------------------------------------------------------- cross-references
@dataclass
class Target:
    kind: str  # "Theorem", "Exercise", "Section", "Equation"...
    title: str  # "" when the target has none
    doc: str  # stem of its notebook, or "../book/<page>"
    number: int | None = None  # exercises are numbered in their notebook


@dataclass
class Context:
    """What rewriting a markdown cell needs besides its text."""

    doc: str = ""
    bib: dict[str, Entry] = field(default_factory=dict)
    targets: dict[str, Target] = field(default_factory=dict)
    doc_titles: dict[str, str] = field(default_factory=dict)
    repo_url: str = ""
    release: str = ""
    cited: list[str] = field(default_factory=list)  # keys in order of first citation


def _kind(name: str) -> str:
    return name.split(":")[-1].replace("-", " ").capitalize()


def scan_targets(doc: str, text: str) -> dict[str, Target]:
    """Labels of directives (``:label:``), ``(label)=`` targets and their titles in a page."""
    targets: dict[str, Target] = {}
    lines = text.split("\n")
    exercises = 0
    for i, line in enumerate(lines):
        m = FENCE_RE.match(line)
        if m and m["fence"][0] in ":`":
            d = DIRECTIVE_RE.match(m["info"].strip())
            if not d or d["name"] in ("code-cell", "raw-cell"):
                continue
            name, arg = d["name"], d["arg"].strip()
            if name == "exercise":
                exercises += 1
            for opt in lines[i + 1:]:
                o = OPTION_RE.match(opt)
                if not o:
                    break
                if o["key"] == "label":
                    kind = _kind(name)
                    targets[o["value"].strip()] = Target(
                        kind, arg if name != "exercise" else "", doc,
                        exercises if name == "exercise" else None)
        t = TARGET_RE.match(line)
        if t:
            heading = next((h for h in lines[i + 1:] if h.strip()), "")
            targets[t["label"]] = Target("Section", heading.lstrip("#").strip(), doc)
    return targets


def _title_of(text: str) -> str:
    m = re.search(r"^# (.+)$", text, re.MULTILINE)
    return m.group(1).strip() if m else ""


def build_context(doc: str, bib: dict[str, Entry] | None = None) -> Context:
    """The bibliography, every label of the notebooks and book pages, and the release."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import setup_cells
    finally:
        sys.path.pop(0)
    ctx = Context(doc=doc, bib=load_bib() if bib is None else bib,
                  repo_url=setup_cells.repository_url(), release=setup_cells.release_tag())
    pages = [(p.stem, p) for p in sorted(NOTEBOOKS.glob("*.md"))]
    pages += [(f"../book/{p.stem}", p) for p in sorted((ROOT / "book").glob("*.md"))]
    for name, path in pages:
        text = path.read_text()
        ctx.doc_titles[name] = _title_of(text)
        ctx.targets.update(scan_targets(name, text))
    return ctx


def _link(ctx: Context, doc: str, anchor: str = "") -> str:
    """Where a reader of the .ipynb finds a page: a sibling notebook, or the book page on GitHub."""
    if doc == ctx.doc:
        return f"#{anchor}" if anchor else ""
    if doc.startswith("../book/"):
        if not ctx.repo_url:
            return ""
        return f"{ctx.repo_url}/blob/{ctx.release}/book/{doc[len('../book/'):]}.md"
    return f"{doc}.ipynb" + (f"#{anchor}" if anchor else "")


def _linked(text: str, href: str) -> str:
    return f"[{text}]({href})" if href else text


def _ref(ctx: Context, role: str, content: str) -> str:
    explicit = EXPLICIT_RE.match(content)
    text, label = (explicit["text"], explicit["target"]) if explicit else ("", content)
    label = label.strip()
    if role == "doc":
        doc = label.removesuffix(".md").removesuffix(".ipynb")
        title = text or ctx.doc_titles.get(doc) or doc.rsplit("/", 1)[-1]
        return _linked(f"*{title}*", _link(ctx, doc))
    if role == "eq":
        return text or f"equation ({label})"
    target = ctx.targets.get(label)
    if target is None:
        raise MystError(f"{{{role}}}`{content}`: unknown label {label!r}")
    if not text:
        title = rewrite_inline(target.title, ctx)  # a title may hold roles (a citation)
        if target.kind == "Section":
            text = f"section *{title}*" if title else "this section"
        elif target.number is not None:
            text = f"{target.kind} {target.number}"
        elif title:
            text = f"{target.kind} ({title})"
        else:
            text = target.kind
        if target.doc != ctx.doc:
            chapter = re.match(r"0*(\d+)_", target.doc)
            text += f" of chapter {chapter.group(1)}" if chapter else \
                f" of *{ctx.doc_titles.get(target.doc) or target.doc}*"
    return _linked(text, _link(ctx, target.doc, label))


def _cite(ctx: Context, role: str, content: str) -> str:
    keys = [k.strip() for k in content.split(",") if k.strip()]
    parts = []
    for key in keys:
        if key not in ctx.bib:
            raise MystError(f"{{{role}}}`{content}`: {key!r} is not in {BIB.name}")
        if key not in ctx.cited:
            ctx.cited.append(key)
        e = ctx.bib[key]
        parts.append((e.names(), e.year))
    if role in ("cite:t", "cite:ts"):
        return ", ".join(f"{n} ({y})" for n, y in parts[:-1]) + \
            (" and " if len(parts) > 1 else "") + f"{parts[-1][0]} ({parts[-1][1]})"
    return "(" + "; ".join(f"{n}, {y}" for n, y in parts) + ")"


def rewrite_inline(text: str, ctx: Context) -> str:
    """Rewrite the roles of a piece of Markdown (code spans are left alone)."""

    def sub(m: re.Match) -> str:
        if m["code"]:
            return m["code"]
        role, content = m["role"], m["content"]
        if role in ("cite", "cite:p", "cite:t", "cite:ps", "cite:ts", "cite:alp"):
            return _cite(ctx, role, content)
        if role in ("prf:ref", "ref", "numref", "doc", "eq"):
            return _ref(ctx, role, content)
        if role.startswith("glue"):
            return f"⟨{content.split(':', 1)[0].strip()}⟩"
        if role == "math":
            return f"${content}$"
        if role in ("sub", "sup"):
            return f"<{role}>{content}</{role}>"
        if role in ("code", "kbd", "file", "samp", "command", "program"):
            return f"`{content}`"
        if role in ("abbr", "term", "index", "download"):
            return EXPLICIT_RE.match(content)["text"] if EXPLICIT_RE.match(content) else content
        raise MystError(f"unknown role {{{role}}}`{content}`")

    return INLINE_RE.sub(sub, text)


# ---------------------------------------------------------------------- block structure
def _one_line_math(lines: list[str]) -> list[str]:
    """Join each display-math block onto one line, so that it survives a ``> `` prefix (the
    notebook renderers cut math out before parsing Markdown, quote markers included)."""
    out, buf = [], None
    for line in lines:
        s = line.strip()
        if buf is None:
            if s.startswith("$$") and (s == "$$" or not s.endswith("$$") or len(s) < 4):
                buf, indent = [s], line[:len(line) - len(line.lstrip())]
            else:
                out.append(line)
        else:
            buf.append(s)
            if s.endswith("$$"):
                out.append(indent + " ".join(x for x in buf if x))  # as indented (lists)
                buf = None
    if buf is not None:
        out.extend(buf)
    return out


def _quote(text: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in _one_line_math(text.split("\n")))


def _lead(heading: str, body: str) -> str:
    """``**Heading.** first paragraph`` when the body opens with a paragraph, else two blocks."""
    body = body.strip("\n")
    first = body.lstrip()
    if first and not re.match(r"(\$\$|[-*+] |\d+[.)] |>|#|`|\||<|:::)", first):
        return f"{heading} {first}"
    return f"{heading}\n\n{body}" if body else heading


def _anchor(label: str | None) -> str:
    return f'<a id="{label}"></a>\n\n' if label else ""


@dataclass
class _State:
    exercises: int = 0
    open_solution: str = ""


def _render_directive(name: str, arg: str, options: dict[str, str], body: str, ctx: Context,
                      state: _State) -> str:
    label = options.get("label")
    classes = options.get("class", "").split()
    if name.startswith("prf:"):
        kind = name[4:]
        if kind == "proof":
            inner = rewrite_blocks(body, ctx, state)
            return _anchor(label) + _lead("*Proof.*", inner).rstrip() + " ∎"
        if kind not in PRF_KINDS:
            raise MystError(f"unknown directive {{{name}}}")
        title = rewrite_inline(arg, ctx)
        heading = f"**{kind.capitalize()}" + (f" ({title})" if title else "") + ".**"
        return _anchor(label) + _quote(_lead(heading, rewrite_blocks(body, ctx, state)))
    if name == "exercise":
        state.exercises += 1
        title = rewrite_inline(arg, ctx)
        heading = f"**Exercise {state.exercises}" + (f" ({title})" if title else "") + ".**"
        return _anchor(label) + _quote(_lead(heading, rewrite_blocks(body, ctx, state)))
    if name in ("solution", "solution-start"):
        target = ctx.targets.get(arg.strip())
        of = f" to Exercise {target.number}" if target and target.number else ""
        inner = rewrite_blocks(body, ctx, state)
        if name == "solution-start":  # the solution runs on, through code cells, to solution-end
            state.open_solution = of
            return f"**Solution{of}** (down to the end mark below)." + \
                (f"\n\n{inner}" if inner.strip() else "")
        return f"<details>\n<summary><b>Solution{of}</b></summary>\n\n{inner.strip()}\n\n</details>"
    if name == "solution-end":
        of, state.open_solution = state.open_solution, ""
        return f"*End of the solution{of}.*"
    if name == "admonition" or name in ADMONITIONS:
        title = rewrite_inline(arg, ctx) if name == "admonition" else \
            (rewrite_inline(arg, ctx) or ("See also" if name == "seealso" else name.capitalize()))
        inner = rewrite_blocks(body, ctx, state)
        if "dropdown" in classes:
            return _anchor(label) + \
                f"<details>\n<summary><b>{title}</b></summary>\n\n{inner.strip()}\n\n</details>"
        return _anchor(label) + _quote(f"**{title}**\n\n{inner.strip()}")
    if name in QUOTED:
        inner = rewrite_blocks(body, ctx, state)
        return _quote((f"**{rewrite_inline(arg, ctx)}**\n\n" if arg else "") + inner.strip())
    if name in ("figure", "image"):
        alt = options.get("alt", "")
        caption = rewrite_blocks(body, ctx, state).strip() if name == "figure" else ""
        return _anchor(label) + f"![{alt or caption}]({arg.strip()})" + \
            (f"\n\n*{caption}*" if caption else "")
    if name in ("math",):
        return _anchor(label) + f"$$\n{body.strip()}\n$$"
    if name in ("code-block", "code", "sourcecode"):
        return f"```{arg.strip()}\n{body.rstrip()}\n```"
    if name in ("table", "list-table"):
        if name == "list-table":
            raise MystError("{list-table}: write the table as a Markdown table")
        title = rewrite_inline(arg, ctx)
        return _anchor(label) + (f"**{title}**\n\n" if title else "") + \
            rewrite_blocks(body, ctx, state).strip()
    raise MystError(f"unknown directive {{{name}}} (teach tools/sync_notebooks.py to write it)")


def _split_options(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    options: dict[str, str] = {}
    if lines and lines[0].strip() == "---":  # YAML options block
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is not None:
            import yaml

            parsed = yaml.safe_load("\n".join(lines[1:end])) or {}
            options = {k: str(v) for k, v in parsed.items()}
            return options, lines[end + 1:]
    i = 0
    while i < len(lines) and (o := OPTION_RE.match(lines[i])):
        options[o["key"]] = o["value"].strip()
        i += 1
    return options, lines[i:]


def rewrite_blocks(text: str, ctx: Context, state: _State | None = None) -> str:
    """Rewrite the directives, targets and roles of a Markdown text (recursively)."""
    state = state or _State()
    lines = text.split("\n")
    out: list[str] = []
    para: list[str] = []

    def flush():
        if para:
            out.append(rewrite_inline("\n".join(para), ctx))
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        m = FENCE_RE.match(line)
        if m:
            fence, info = m["fence"], m["info"].strip()
            closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
            j = next((k for k in range(i + 1, len(lines)) if closing.match(lines[k])), None)
            if j is None:
                raise MystError(f"unclosed {fence} fence: {line.strip()!r}")
            d = DIRECTIVE_RE.match(info)
            flush()
            if not d:  # a plain code block (or a bare ::: block): kept verbatim
                if fence[0] == ":":
                    raise MystError(f"colon fence without a directive: {line.strip()!r}")
                out.append("\n".join(lines[i:j + 1]))
            else:
                options, body = _split_options(lines[i + 1:j])
                block = _render_directive(d["name"], d["arg"], options, "\n".join(body), ctx,
                                          state)
                indent = m["indent"]
                out.append("\n".join((indent + b) if b else b for b in block.split("\n")))
            i = j + 1
            continue
        t = TARGET_RE.match(line)
        if t:
            flush()
            out.append(f'<a id="{t["label"]}"></a>\n')  # a blank line: the heading stays one
            i += 1
            continue
        ml = MATH_LABEL_RE.match(line)
        if ml:
            line = ml["head"]
        para.append(line)
        i += 1
    flush()
    return "\n".join(out)


def degrade(source: str, ctx: Context, state: _State | None = None) -> str:
    """The plain-Markdown version of one MyST markdown cell (pure: reads nothing but ``ctx``)."""
    return re.sub(r"\n{3,}", "\n\n", rewrite_blocks(source, ctx, state)).strip("\n")


# ---------------------------------------------------------------------- notebooks
NOTE = ("*This notebook is generated from the book's MyST source (`{md}`) for Colab and GitHub: "
        "theorem boxes, exercises, citations and cross-references are written in plain Markdown, "
        "and ⟨name⟩ stands for a number that the code computes (the book's page shows its "
        "value).*")


def _cell_id(doc: str, index: int) -> str:
    return hashlib.sha1(f"{doc}:{index}".encode()).hexdigest()[:8]


def references_cell(ctx: Context) -> str:
    lines = ["### Works cited", ""]
    for key in sorted(ctx.cited, key=lambda k: (ctx.bib[k].names(), ctx.bib[k].year)):
        e = ctx.bib[key]
        venue = f" *{e.venue}*," if e.venue else ""
        lines.append(f"- {e.names()} ({e.year}). {e.title}.{venue} {e.year}.".replace(",  ", ", ")
                     .replace(f", {e.year}.", "."))
    return "\n".join(lines)


def generate(md: Path, bib: dict[str, Entry] | None = None) -> dict:
    """The .ipynb (as JSON) that ``md`` generates: code cells as they are, markdown degraded."""
    import jupytext
    import nbformat

    nb = jupytext.read(md)
    ctx = build_context(md.stem, bib)
    state = _State()
    cells = []
    first_markdown = True
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            source = degrade(cell.source, ctx, state)
            if first_markdown:
                first_markdown = False
                lines = source.split("\n", 1)
                note = NOTE.format(md=f"notebooks/{md.name}")
                source = lines[0] + "\n\n" + note + ("\n\n" + lines[1].lstrip("\n")
                                                    if len(lines) > 1 else "")
            new = nbformat.v4.new_markdown_cell(source)
            if cell.metadata:
                new.metadata = copy.deepcopy(cell.metadata)
        elif cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(cell.source)
            new.metadata = copy.deepcopy(cell.metadata)
        else:
            new = nbformat.v4.new_raw_cell(cell.source)
            new.metadata = copy.deepcopy(cell.metadata)
        new.id = _cell_id(md.stem, i)
        cells.append(new)
    if ctx.cited:
        ref = nbformat.v4.new_markdown_cell(references_cell(ctx))
        ref.id = _cell_id(md.stem, len(cells))
        cells.append(ref)
    meta = {"kernelspec": copy.deepcopy(nb.metadata.get("kernelspec", {})),
            "gantheory": {"generated_from": md.name,
                          "by": "tools/sync_notebooks.py (do not edit; edit the .md)"}}
    out = nbformat.v4.new_notebook(cells=cells, metadata=meta)
    out.nbformat, out.nbformat_minor = 4, 5
    return json.loads(json.dumps(out))


def dumps(nb: dict) -> str:
    """The file's text, as Jupyter writes it (sources split in lines, so diffs stay readable)."""
    import nbformat

    return nbformat.writes(nbformat.from_dict(nb)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only list the stale .ipynb files")
    parser.add_argument("md", nargs="*", type=Path, help="chapters (default: notebooks/*.md)")
    args = parser.parse_args(argv)
    mds = [p.resolve() for p in args.md] or sorted(NOTEBOOKS.glob("*.md"))
    bib = load_bib()
    stale = []
    for md in mds:
        ipynb = md.with_suffix(".ipynb")
        try:
            text = dumps(generate(md, bib))
        except MystError as err:
            print(f"{md.relative_to(ROOT)}: {err}", file=sys.stderr)
            return 2
        if not ipynb.exists() or ipynb.read_text() != text:
            stale.append(ipynb)
            if not args.check:
                ipynb.write_text(text)
    for ipynb in stale:
        verb = "differs from its .md: run `make sync`" if args.check else "written"
        print(f"{ipynb.relative_to(ROOT)}: {verb}")
    return 1 if (stale and args.check) else 0


if __name__ == "__main__":
    raise SystemExit(main())
