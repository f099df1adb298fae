"""Build a course edition of the book from the main build's executed outputs.

    python tools/build_edition.py student   # the site without solutions -> _build/student/html
    python tools/build_edition.py pdf       # the book as a PDF (LaTeX) -> _build/pdf/book.pdf

Both editions use the same sources as ``make book`` and execute nothing: MyST-NB is pointed at
the main build's execution cache (``_build/.jupyter_cache``, filled by ``tools/build_book.py``),
and the edition stops before Sphinx runs when a chapter is missing from that cache or the cache
is stale (``lib/``, ``artifacts/`` or ``pyproject.toml`` changed since), and fails when the log
shows that a notebook was executed anyway. The *Checked claims* page is the one the main build
wrote (``book/checked-claims.md``). Each edition gets its own configuration file, written from
``_config.yml`` into its output folder (``jupyter-book``'s ``--config``), with the book's
extensions plus ``book/_ext/editions.py``:

- ``student``: ``gantheory_remove_solutions`` removes every solution (exercises stay); an HTML
  site like the main one (offline assets, claims page, launch buttons), warnings as errors.
- ``pdf``: Sphinx's LaTeX builder with XeLaTeX (Unicode text and fonts), theorem and exercise
  environments from sphinx-proof / sphinx-exercise, the bibliography, plotly figures as static
  PNGs (rendered by kaleido with the system's Chromium); then ``latexmk`` and a copy of the PDF
  to ``_build/pdf/book.pdf``. Needs TeX (``make pdf-deps``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
EDITIONS = ("student", "pdf")
TEX_PROGRAMS = ("xelatex", "latexmk")
PDF_DEPS = "make pdf-deps"

RUNNER = """
import sys
from jupyter_book.sphinx import build_sphinx
src, out, cfg, toc, builder = sys.argv[1:6]
rc = build_sphinx(src, out, use_external_toc=True, noconfig=True, path_config=cfg,
                  confoverrides={"external_toc_path": toc, "latex_individualpages": False},
                  builder=builder, warningiserror=True, keep_going=True, freshenv=True,
                  force_all=True)
sys.exit(rc if isinstance(rc, int) else 1)
"""


class EditionError(RuntimeError):
    pass


def notebook_docs(book: Path) -> list[str]:
    """The notebook chapters of the book's ``_toc.yml`` (docnames), in book order."""
    toc = yaml.safe_load((book / "_toc.yml").read_text())
    files = [ch["file"] for part in toc.get("parts", []) for ch in part.get("chapters", [])]
    return [f for f in files if (book / f"{f}.md").exists()
            and "jupytext" in (book / f"{f}.md").read_text()[:400]]


def check_main_build(book: Path, main_build: Path) -> Path:
    """The execution cache of the main build; ``EditionError`` when it cannot serve every
    chapter without executing."""
    cache = main_build / ".jupyter_cache"
    hint = "build the book first: `make book` (tools/build_book.py)"
    if not cache.is_dir():
        raise EditionError(f"no execution cache at {cache}: {hint}")
    if book == ROOT:
        sys.path.insert(0, str(ROOT / "tools"))
        from build_book import CLAIMS_PAGE, PLACEHOLDER, code_hash

        stamp = main_build / ".gantheory-code-hash"
        if not stamp.exists() or stamp.read_text().strip() != code_hash():
            raise EditionError("the execution cache predates the last change to lib/, "
                               f"artifacts/ or pyproject.toml: {hint}")
        if not CLAIMS_PAGE.exists() or CLAIMS_PAGE.read_text() == PLACEHOLDER:
            raise EditionError(f"book/checked-claims.md has not been written: {hint}")
    import jupytext
    from jupyter_cache import get_cache

    jc = get_cache(str(cache))
    missing = []
    for doc in notebook_docs(book):
        try:
            jc.match_cache_notebook(jupytext.read(book / f"{doc}.md"))
        except KeyError:
            missing.append(doc)
    if missing:
        raise EditionError(f"not in the execution cache {cache} (the code changed since the "
                           f"last main build?): {', '.join(missing)}; {hint}")
    return cache


def edition_config(book: Path, edition: str, cache: Path) -> dict:
    """``_config.yml`` of the book, adapted to the edition."""
    cfg = yaml.safe_load((book / "_config.yml").read_text())
    cfg.setdefault("execute", {})["cache"] = str(cache)
    sphinx = cfg.setdefault("sphinx", {})
    local = {name: str((book / path).resolve())
             for name, path in (sphinx.get("local_extensions") or {}).items()}
    local["editions"] = str(ROOT / "book" / "_ext")
    sphinx["local_extensions"] = local
    config = sphinx.setdefault("config", {})
    if edition == "student":
        cfg["title"] = f"{cfg.get('title', 'Book')} (student edition)"
        config["gantheory_remove_solutions"] = True
    else:
        cfg["latex"] = {**(cfg.get("latex") or {}), "latex_engine": "xelatex",
                        # sphinx-jupyterbook-latex's class needs bbm.sty (texlive-fonts-extra,
                        # 1.4 GB installed): Sphinx's own manual class instead
                        "use_jupyterbook_latex": False,
                        "latex_documents": {"targetname": "book.tex"}}
        config["latex_use_xindy"] = False
        config["latex_elements"] = {**(config.get("latex_elements") or {}),
                                    "figure_align": "H", "papersize": "a4paper",
                                    "extraclassoptions": "openany,oneside"}
    return cfg


def _run(cmd: list[str], log: Path, env: dict, cwd: Path) -> tuple[int, str]:
    """Run ``cmd``, echo its output and keep it in ``log``."""
    print("+", " ".join(cmd), flush=True)
    lines = []
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            sys.stdout.write(line)
            lines.append(line)
    text = "".join(lines)
    log.write_text(text)
    return proc.returncode, text


def build(edition: str, book: Path = ROOT, output: Path | None = None,
          main_build: Path | None = None) -> int:
    start = time.perf_counter()
    book = book.resolve()
    main_build = (main_build or book / "_build").resolve()
    output = (output or book / "_build" / edition).resolve()
    if edition == "pdf":
        missing = [p for p in TEX_PROGRAMS if not shutil.which(p)]
        if missing:
            raise EditionError(f"TeX is not installed ({', '.join(missing)} not found): "
                               f"`{PDF_DEPS}` installs Debian's TeX packages and kaleido")
    cache = check_main_build(book, main_build)
    output.mkdir(parents=True, exist_ok=True)
    cfg_path = output / "_config.yml"
    cfg_path.write_text("# written by tools/build_edition.py from _config.yml: do not edit\n"
                        + yaml.safe_dump(edition_config(book, edition, cache), sort_keys=False))
    builder, outdir = ("html", output / "html") if edition == "student" else \
        ("latex", output / "latex")
    env = {k: v for k, v in os.environ.items() if k != "GANTHEORY_QUICK"}  # as the main build
    rc, log = _run([sys.executable, "-c", RUNNER, str(book), str(outdir), str(cfg_path),
                    str(book / "_toc.yml"), builder], output / "sphinx.log", env, book)
    n_cached = log.count("Using cached notebook")
    if "Executing notebook" in log:
        raise EditionError("a notebook was executed: the edition must take every output from "
                           f"the main build's cache {cache} (see {output / 'sphinx.log'})")
    if rc != 0:
        print(f"{edition}: Sphinx failed with code {rc} (log: {output / 'sphinx.log'})")
        return rc
    print(f"{edition}: {n_cached} notebooks from the execution cache, none executed")
    if edition == "pdf":
        tex_env = dict(env, LATEXMKOPTS="-silent -interaction=nonstopmode -halt-on-error")
        rc, _ = _run(["make", "all-pdf"], output / "latexmk.log", tex_env, outdir)
        pdf = outdir / "book.pdf"
        if rc != 0 or not pdf.exists():
            print(f"pdf: LaTeX failed (code {rc}); see {outdir / 'book.log'}")
            return rc or 1
        shutil.copy2(pdf, output / "book.pdf")
        print(f"pdf: {output / 'book.pdf'} ({pdf.stat().st_size / 1e6:.1f} MB)")
    else:
        print(f"student: {outdir / 'index.html'}")
    print(f"{edition} edition built in {time.perf_counter() - start:.0f} s")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("edition", choices=EDITIONS)
    parser.add_argument("--book", type=Path, default=ROOT, help="book source folder")
    parser.add_argument("--output", type=Path, default=None,
                        help="output folder (default: <book>/_build/<edition>)")
    parser.add_argument("--main-build", type=Path, default=None,
                        help="the main build whose execution cache is used (<book>/_build)")
    args = parser.parse_args()
    try:
        return build(args.edition, args.book, args.output, args.main_build)
    except EditionError as exc:
        print(f"{args.edition} edition: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
