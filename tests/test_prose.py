"""The prose pages say what the book is: pure-text checks of the sources, no build.

1. The course plan of ``book/course-guide.md`` links every chapter and part overview listed in
   ``_toc.yml``.
2. No page says that a chapter or part is missing, unwritten or still to come, and no authoring
   note ("could not be read", "TODO", ...) is left in the prose.
3. Every ``{doc}`` link of a page points to a source file that exists.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
GUIDE = ROOT / "book" / "course-guide.md"
PAGES = sorted([*(ROOT / "book").glob("*.md"), *(ROOT / "notebooks").glob("*.md")])
SOURCE_SUFFIXES = (".md", ".ipynb", ".rst")

# {doc}`target` or {doc}`text <target>`
DOC_ROLE = re.compile(r"\{doc\}`(?:[^`<]*<)?([^`<>]+?)>?`")

STALE_PHRASES = [
    r"being written",
    r"not yet (?:in|part of) the book",
    r"not yet written",
    r"(?:is|are) not yet (?:available|included|written)",
    r"will be (?:added|written|included)",
    r"coming soon",
    r"to be written",
    r"in a (?:future|later) (?:version|chapter|edition|release)",
    r"left for a (?:future|later) version",
    r"could not be read",
    r"full text could not",
    r"\bTODO\b",
    r"\bTBD\b",
    r"\bFIXME\b",
]
STALE = re.compile("|".join(f"(?:{p})" for p in STALE_PHRASES), re.IGNORECASE)


def _toc_files(node) -> list[str]:
    """Every ``file:`` entry of the table of contents, in order."""
    found = []
    if isinstance(node, dict):
        if isinstance(node.get("file"), str):
            found.append(node["file"])
        for value in node.values():
            found += _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            found += _toc_files(item)
    return found


def _doc_path(page: Path, target: str) -> str:
    """The docname (relative to the book root, no suffix) that ``target`` names from ``page``."""
    target = target.strip()
    for suffix in SOURCE_SUFFIXES:
        if target.endswith(suffix):
            target = target[: -len(suffix)]
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    base = page.parent.relative_to(ROOT).as_posix()
    return posixpath.normpath(posixpath.join(base, target))


def _prose_lines(page: Path) -> list[tuple[int, str]]:
    """(line number, text) of the markdown of a page, without code cells and front matter."""
    lines = page.read_text().splitlines()
    out, in_code, start = [], False, 0
    if lines and lines[0].strip() == "---":  # jupytext/MyST front matter
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), 0)
        start = end + 1
    for number, line in enumerate(lines[start:], start=start + 1):
        stripped = line.strip()
        if not in_code and stripped.startswith("```{code-cell}"):
            in_code = True
            continue
        if in_code:
            if stripped == "```":
                in_code = False
            continue
        out.append((number, line))
    return out


def _course_plan() -> str:
    text = GUIDE.read_text()
    match = re.search(r"^## A twelve-week plan\n(.*?)(?=^## )", text, re.S | re.M)
    assert match, "book/course-guide.md has no section '## A twelve-week plan'"
    return match.group(1)


def test_pages_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in PAGES}
    assert "book/course-guide.md" in names and "notebooks/01_concentration.md" in names


def test_course_plan_links_every_chapter_and_overview():
    wanted = [f for f in _toc_files(TOC)
              if f.startswith("notebooks/") or re.fullmatch(r"book/part\d+-overview", f)]
    assert len([f for f in wanted if f.startswith("notebooks/")]) >= 9, wanted
    linked = {_doc_path(GUIDE, t) for t in DOC_ROLE.findall(_course_plan())}
    missing = [f for f in wanted if f not in linked]
    assert not missing, f"the course plan of book/course-guide.md does not link {missing}"


def test_course_plan_sends_no_week_to_an_overview_alone():
    """A week that links a part overview also links a chapter of that part."""
    bad = []
    for row in _course_plan().splitlines():
        if not row.startswith("|"):
            continue
        targets = [_doc_path(GUIDE, t) for t in DOC_ROLE.findall(row)]
        if any("overview" in t for t in targets) and not any(
                t.startswith("notebooks/") for t in targets):
            bad.append(row.split("|")[1].strip())
    assert not bad, f"weeks {bad} point to a part overview instead of a chapter"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_page_says_the_book_is_unfinished(page):
    hits = [f"{page.relative_to(ROOT).as_posix()}:{number}: {line.strip()}"
            for number, line in _prose_lines(page) if STALE.search(line)]
    assert not hits, "stale or unfinished prose:\n" + "\n".join(hits)


def test_stale_phrase_detector_catches_the_old_wording():
    for sentence in ("the chapters they describe are being written",
                     "Not yet in the book: trained WGANs",
                     "The paper's full text could not be read for this chapter.",
                     "TODO: add the digits", "left for a later version"):
        assert STALE.search(sentence), sentence
    for sentence in ("the untrained critic sees little", "FutureWarning",
                     "Gaussian isoperimetry handles m = 2"):
        assert not STALE.search(sentence), sentence


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_doc_links_point_to_existing_files(page):
    broken = []
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        for target in DOC_ROLE.findall(line):
            doc = _doc_path(page, target)
            if not any((ROOT / f"{doc}{suffix}").is_file() for suffix in SOURCE_SUFFIXES):
                broken.append(f"{page.relative_to(ROOT).as_posix()}:{number}: {{doc}}`{target}`")
    assert not broken, "links to missing pages:\n" + "\n".join(broken)


def test_toc_files_exist():
    missing = [f for f in _toc_files(TOC)
               if not any((ROOT / f"{f}{suffix}").is_file() for suffix in SOURCE_SUFFIXES)]
    assert not missing, f"_toc.yml lists missing files {missing}"


def test_chapter_titles_carry_their_number_in_book_order():
    """Chapter numbers show in the table of contents and the page titles: each chapter's title
    starts with its position among the notebook chapters of ``_toc.yml``."""
    chapters = [f for f in _toc_files(TOC) if f.startswith("notebooks/")]
    assert len(chapters) == 9
    for number, doc in enumerate(chapters, start=1):
        text = (ROOT / f"{doc}.md").read_text()
        title = re.search(r"^# (.+)$", text, re.MULTILINE).group(1)
        assert re.match(rf"{number}\. \S", title), (doc, title)
