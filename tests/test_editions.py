"""The course editions (``tools/build_edition.py``): the student site and the PDF.

Both are built from the main build's execution cache (``_build/.jupyter_cache``, written by
``tools/build_book.py``): the tests skip when the main build is missing (``make book`` first),
and build an edition when it is missing or older than its sources or the cache. The PDF tests
skip when TeX is not installed (``make pdf-deps``).
"""

from __future__ import annotations

import html as html_lib
import importlib.util
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "_build"
HTML = MAIN / "html"
STUDENT = MAIN / "student" / "html"
PDF = MAIN / "pdf" / "book.pdf"

pytestmark = pytest.mark.site


def _toc_docs() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [ch["file"] for part in toc["parts"] for ch in part["chapters"]]


def _title(doc: str) -> str:
    for line in (ROOT / f"{doc}.md").read_text().splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    raise AssertionError(f"{doc} has no title")


def _require_main_build() -> None:
    if not (HTML / "index.html").exists() or not (MAIN / ".jupyter_cache").is_dir() \
            or not (MAIN / "claims.json").exists():
        pytest.skip("the main build is missing (_build/html, _build/.jupyter_cache): the "
                    "editions reuse its executed outputs; run `make book` first")


def _inputs() -> list[Path]:
    files = [ROOT / "_config.yml", ROOT / "_toc.yml", ROOT / "book" / "references.bib",
             ROOT / "tools" / "build_edition.py", MAIN / ".jupyter_cache" / "global.db"]
    files += sorted((ROOT / "book").glob("*.md")) + sorted((ROOT / "notebooks").glob("*.md"))
    files += sorted((ROOT / "book" / "_ext").glob("*.py"))
    return [f for f in files if f.exists()]


def _stale(target: Path) -> bool:
    return not target.exists() or target.stat().st_mtime < max(f.stat().st_mtime
                                                                for f in _inputs())


def _build(edition: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "build_edition.py"), edition],
                          capture_output=True, text=True, cwd=ROOT, timeout=3600)
    tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-60:])
    assert proc.returncode == 0, f"{edition} edition failed:\n{tail}"
    return proc


def _text(page: Path) -> str:
    """The visible text of an HTML page, whitespace collapsed (scripts and styles dropped)."""
    raw = re.sub(r"<(script|style)\b.*?</\1>", " ", page.read_text(), flags=re.S)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", raw)).split())


def _solution_phrases() -> dict[str, list[str]]:
    """{chapter: phrases}: the longest run of plain prose (5 words or more: no math, code or
    markup) of each solution of the sources that has one."""
    phrases: dict[str, list[str]] = {}
    n_solutions = 0
    for md in sorted((ROOT / "notebooks").glob("*.md")):
        text = md.read_text()
        bodies = re.findall(r"^:::\{solution\}[^\n]*\n(.*?)^:::\s*$", text, re.S | re.M)
        bodies += re.findall(r"^:::\{solution-start\}.*?^:::\s*$(.*?)^:::\{solution-end\}",
                             text, re.S | re.M)
        for body in bodies:
            n_solutions += 1
            body = re.sub(r"```.*?```", " ", body, flags=re.S)  # code cells
            body = "\n".join(line for line in body.splitlines() if not line.startswith(":"))
            best = ""
            # smartquotes turns quotes and dashes into other characters on the page
            for chunk in re.split(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|\{[^}]*\}|[*_\\\[\]()\"']|--|"
                                  r"\.\.\.|\n\n", body, flags=re.S):
                words = chunk.strip(" \n:;,.").split()
                if len(words) >= 5 and len(" ".join(words)) > len(best):
                    best = " ".join(words)
            if best:
                phrases.setdefault(md.stem, []).append(best)
    n_phrases = sum(map(len, phrases.values()))
    assert n_phrases >= 0.8 * n_solutions, f"only {n_phrases} of {n_solutions} solutions"
    return phrases


# ----------------------------------------------------------------------------- student site
@pytest.fixture(scope="module")
def student() -> Path:
    _require_main_build()
    if _stale(STUDENT / "index.html"):
        _build("student")
    return STUDENT


def test_student_site_has_every_page(student):
    for doc in _toc_docs():
        assert (student / f"{doc}.html").exists(), f"{doc} missing from the student edition"
    assert "(student edition)" in (student / "book" / "preface.html").read_text()


def test_student_edition_executed_nothing(student):
    log = (student.parent / "sphinx.log").read_text()
    assert "Executing notebook" not in log
    n_notebooks = len(list((ROOT / "notebooks").glob("*.md")))
    assert log.count("Using cached notebook") == n_notebooks


def test_student_site_has_no_solutions_and_all_exercises(student):
    phrases = _solution_phrases()
    assert sum(map(len, phrases.values())) >= 9
    for md in sorted((ROOT / "notebooks").glob("*.md")):
        page = student / "notebooks" / f"{md.stem}.html"
        raw = page.read_text()
        assert not re.search(r'class="[^"]*\bsolution\b', raw), f"solution box on {page.name}"
        assert "Solution to" not in raw, f"solution title on {page.name}"
        text = _text(page)
        for phrase in phrases.get(md.stem, []):
            assert phrase not in text, f"solution text on {page.name}: {phrase!r}"
        n_exercises = len(re.findall(r"^:::\{exercise\}", md.read_text(), re.M))
        assert len(re.findall(r'class="[^"]*\bexercise\b[^"]*admonition', raw)) == n_exercises


def test_full_site_has_the_solutions(student):
    for chapter, chapter_phrases in _solution_phrases().items():
        page = HTML / "notebooks" / f"{chapter}.html"
        text, raw = _text(page), page.read_text()
        assert re.search(r'class="[^"]*\bsolution\b', raw)
        for phrase in chapter_phrases:
            assert phrase in text, f"solution text missing from the full site {page.name}"


def _local_assets(page: Path) -> set[str]:
    """The local scripts and stylesheets a page loads (query strings dropped)."""
    refs = re.findall(r"""<(?:script|link)\b[^>]*?(?:src|href)=["']([^"'#?]+)""", page.read_text())
    return {r for r in refs if "//" not in r and r.endswith((".js", ".css"))}


def test_student_site_keeps_claims_page_and_offline_assets(student):
    ids = [set(re.findall(r"\bch\d\d-[a-z0-9-]+", _text(site / "book" / "checked-claims.html")))
           for site in (student, HTML)]
    assert len(ids[0]) >= 10 and ids[0] == ids[1], "the student edition's claims page differs"
    for md in sorted((ROOT / "notebooks").glob("*.md")):
        rel = Path("notebooks") / f"{md.stem}.html"
        assets = _local_assets(student / rel)
        assert assets == _local_assets(HTML / rel), f"{rel}: other assets than the full site"
        for ref in assets:
            assert (student / rel).parent.joinpath(ref).resolve().exists(), f"{rel}: {ref}"
    assert 0 < _n_figures(student) <= _n_figures(HTML)


def _n_figures(site: Path) -> int:
    return sum(p.read_text().count("Plotly.newPlot(") for p in (site / "notebooks").glob("*.html"))


# ----------------------------------------------------------------------------- PDF
@pytest.fixture(scope="module")
def pdf() -> Path:
    _require_main_build()
    missing = [p for p in ("xelatex", "latexmk") if not shutil.which(p)]
    if missing:
        pytest.skip(f"TeX is not installed ({', '.join(missing)} missing): `make pdf-deps` "
                    "installs it (Debian: apt-get install texlive-xetex texlive-latex-recommended"
                    " texlive-latex-extra texlive-fonts-recommended fonts-freefont-otf latexmk "
                    "poppler-utils)")
    for module in ("kaleido", "pypdf"):  # the PDF's static figures; reading the PDF
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: `make pdf-deps` installs it")
    if _stale(PDF):
        _build("pdf")
    return PDF


def _pdf_text(path: Path) -> str:
    if shutil.which("pdftotext"):
        out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                             check=True).stdout
    else:
        from pypdf import PdfReader

        out = "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
    out = re.sub(r"-\n", "", out)  # hyphenation at line ends
    return " ".join(out.split())


@pytest.fixture(scope="module")
def pdf_text(pdf) -> str:
    return _pdf_text(pdf)


def _norm(s: str) -> str:
    """Lower case, accents and markup dropped, whitespace collapsed ("Über" -> "uber"), and
    hyphens dropped: the PDF text joins words hyphenated at line ends, so a real hyphen that
    falls there disappears ("sub-\nGaussian" -> "subGaussian")."""
    s = "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))
    return " ".join(s.lower().replace("`", "").replace("*", "").replace("-", "").split())


def test_pdf_has_every_chapter_title(pdf_text):
    text = _norm(pdf_text)
    for doc in _toc_docs():
        title = re.sub(r"^\d+\.\s+", "", _title(doc))  # "1. Concentration": number apart
        assert _norm(title) in text, f"chapter title missing from the PDF: {title!r}"


def _cited_titles() -> list[str]:
    sources = "".join(p.read_text() for p in [*(ROOT / "notebooks").glob("*.md"),
                                              *(ROOT / "book").glob("*.md")])
    cited = set()
    for group in re.findall(r"\{cite(?::[a-z]+)?\}`([^`]+)`", sources):
        cited.update(k.strip() for k in group.split(","))
    bib = (ROOT / "book" / "references.bib").read_text()
    titles = []
    for key, body in re.findall(r"@\w+\{([^,]+),(.*?)\n\}", bib, re.S):
        m = re.search(r"\btitle\s*=\s*[{\"](.*?)[}\"],?\s*\n", body, re.S)
        if key.strip() in cited and m:
            words = re.sub(r"\\[\"'`^~=.]|[{}\\$]", "", m.group(1)).split()[:4]
            titles.append(" ".join(words))
    return titles


def test_pdf_has_the_bibliography(pdf_text):
    titles = _cited_titles()
    assert len(titles) >= 5
    text = _norm(pdf_text)
    missing = [t for t in titles if _norm(t) not in text]
    assert not missing, f"cited works missing from the PDF's bibliography: {missing}"
    assert "Bibliography" in pdf_text


def test_pdf_keeps_theorems_exercises_and_solutions(pdf_text):
    for word in ("Theorem", "Proof", "Exercise", "Solution to Exercise", "Definition"):
        assert word in pdf_text, f"no {word!r} in the PDF"


def test_pdf_has_a_static_image_for_every_plotly_figure(pdf):
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    n_images = sum(len(page.images) for page in reader.pages)
    n_figures = _n_figures(HTML)
    assert n_figures > 0
    assert n_images >= n_figures, f"{n_images} images in the PDF for {n_figures} figures"
    assert len(reader.pages) > 50
