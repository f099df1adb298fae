"""Every chapter is a MyST .md notebook with a generated .ipynb that is in sync and output-free.

"In sync" means: the committed .ipynb is exactly what ``tools/sync_notebooks.py`` (``make sync``)
writes from the .md: the same code cells with the same tags, and each markdown cell rewritten in
plain Markdown (see tests/test_colab.py for the rewriting)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MDS = sorted((ROOT / "notebooks").glob("*.md"))


def _cells(nb):
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]


def test_there_are_chapters():
    assert MDS, "no notebooks/*.md"
    assert {p.stem for p in MDS} == {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}


@pytest.mark.parametrize("md", MDS, ids=lambda p: p.stem)
def test_pair_in_sync(md):
    text_nb = jupytext.read(md)
    ipynb = jupytext.read(md.with_suffix(".ipynb"))
    code = [c for c in _cells(text_nb) if c[0] == "code"]
    assert code == [c for c in _cells(ipynb) if c[0] == "code"], \
        f"{md.name} and its .ipynb differ: run `make sync`"
    kinds = [c[0] for c in _cells(ipynb)]
    assert kinds[:len(text_nb.cells)] == [c[0] for c in _cells(text_nb)], \
        f"{md.name} and its .ipynb have different cells: run `make sync`"
    assert all(k == "markdown" for k in kinds[len(text_nb.cells):])  # the works cited
    assert ipynb.metadata.get("kernelspec", {}).get("name") == "python3"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "sync_notebooks.py"), "--check",
                           str(md)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("md", MDS, ids=lambda p: p.stem)
def test_ipynb_committed_without_outputs(md):
    nb = jupytext.read(md.with_suffix(".ipynb"))
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("md", MDS, ids=lambda p: p.stem)
def test_chapter_structure(md):
    """Objectives, numbered results, exercises with solutions, references."""
    text = md.read_text()
    assert "{prf:theorem}" in text or "{prf:proposition}" in text, f"{md.name} states no result"
    for needle in ("Learning objectives", "Prerequisites", "{prf:proof}",
                   "{exercise}", "{solution", ":class: dropdown", "## References",
                   "claims.start(", "claims.claim(", "claims.summary()"):
        assert needle in text, f"{md.name} lacks {needle!r}"
    assert text.index("claims.summary()") < text.index("## References"), \
        f"{md.name}: the claims box belongs at the end of the chapter, before the references"


@pytest.mark.parametrize("md", MDS, ids=lambda p: p.stem)
def test_results_are_checked_through_the_ledger_not_bare_asserts(md):
    """A result goes through gantheory.claims (recorded, shown, on the Checked claims page);
    a bare assert checks silently and vanishes from the ledger."""
    bare = [f"{md.name}:{i + 1}: {line.strip()}" for i, line in
            enumerate(md.read_text().splitlines()) if re.match(r"^\s*assert\b", line)]
    assert not bare, "\n".join(bare)


def test_colab_setup_cells_match_config():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "setup_cells.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import setup_cells
    finally:
        sys.path.pop(0)
    # the release tag, from the one version of pyproject.toml, not a moving branch
    version = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(),
                        re.MULTILINE).group(1)
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    assert setup_cells.install_target() == f"gantheory @ git+{url}@v{version}"
    for md in MDS:
        for nb in (jupytext.read(md), jupytext.read(md.with_suffix(".ipynb"))):
            setup = next(c for c in nb.cells if c.cell_type == "code")
            assert f'"gantheory @ git+{url}@v{version}"' in setup.source, md.name


def test_setup_cell_detects_a_stale_url(tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import setup_cells
    finally:
        sys.path.pop(0)
    text = MDS[0].read_text()
    assert setup_cells.expected_text(text) == text
    stale = text.replace(setup_cells.install_target(), "gantheory @ git+https://example.org/x@y")
    assert setup_cells.expected_text(stale) == text
    with pytest.raises(ValueError, match="no Colab setup cell"):
        setup_cells.expected_text("# a page without a setup cell\n")


PAGES = MDS + sorted((ROOT / "book").glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_display_math_is_a_block(page):
    """A `$$` line that touches a paragraph is parsed as two inline `$` delimiters, which breaks
    the page's math (seen in chapter 9's Proposition 12): display math needs blank lines."""
    lines = page.read_text().split("\n")
    opening = True
    for i, line in enumerate(lines):
        if line.strip() != "$$":
            continue
        if opening:
            before = lines[i - 1].strip() if i else ""
            assert before == "", f"{page.name}:{i + 1}: blank line before $$"
        else:
            after = lines[i + 1].strip() if i + 1 < len(lines) else ""
            assert after in ("", ":::"), f"{page.name}:{i + 1}: blank line after $$"
        opening = not opening
    assert opening, f"{page.name}: unbalanced $$"
