"""The committed .ipynb files (Colab, Binder's buttons, GitHub) are generated from the MyST .md
files by tools/sync_notebooks.py, with every MyST construct written as plain Markdown."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
MDS = sorted((ROOT / "notebooks").glob("*.md"))
sys.path.insert(0, str(ROOT / "tools"))
try:
    import setup_cells
    import sync_notebooks as sn
finally:
    sys.path.pop(0)

RAW_MYST = {
    "colon fence": re.compile(r"^\s*:::", re.MULTILINE),
    "directive fence": re.compile(r"```\{"),
    "citation role": re.compile(r"\{cite"),
    "sphinx-proof role": re.compile(r"\{prf:"),
    "glue role": re.compile(r"\{glue"),
    "ref role": re.compile(r"\{(ref|numref|eq|doc|math)\}"),
    "any role": re.compile(r"\{[a-z][\w:-]*\}`"),
    "(label)= target": re.compile(r"^\s*\([^()\s]+\)=\s*$", re.MULTILINE),
    "directive option": re.compile(r"^\s*:(label|class|nonumber|name):", re.MULTILINE),
    "labelled math": re.compile(r"\$\$\s*\([\w:.-]+\)\s*$", re.MULTILINE),
}


@pytest.fixture(scope="module")
def bib():
    return sn.load_bib()


@pytest.fixture(scope="module")
def ctx(bib):
    return sn.build_context("01_concentration", bib)


def _ipynb(md: Path) -> dict:
    return json.loads(md.with_suffix(".ipynb").read_text())


def _src(cell) -> str:
    s = cell["source"]
    return "".join(s) if isinstance(s, list) else s


@pytest.mark.parametrize("md", MDS, ids=lambda p: p.stem)
def test_committed_ipynb_is_what_the_md_generates(md, bib):
    assert md.with_suffix(".ipynb").read_text() == sn.dumps(sn.generate(md, bib)), \
        f"{md.with_suffix('.ipynb').name} is stale: run `make sync`"


def test_check_mode_lists_nothing_when_in_sync():
    assert sn.main(["--check"]) == 0


def test_check_mode_reports_a_stale_ipynb(tmp_path, monkeypatch, bib, capsys):
    md = tmp_path / MDS[0].name
    md.write_text(MDS[0].read_text())
    (tmp_path / MDS[0].with_suffix(".ipynb").name).write_text(
        sn.dumps(sn.generate(MDS[0], bib)).replace("Concentration", "Stale", 1))
    monkeypatch.setattr(sn, "ROOT", tmp_path)
    assert sn.main(["--check", str(md)]) == 1
    assert "differs from its .md" in capsys.readouterr().out


@pytest.mark.parametrize("md", MDS, ids=lambda p: p.stem)
def test_no_raw_myst_in_markdown_cells(md):
    bad = []
    for i, cell in enumerate(_ipynb(md)["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        # fenced code blocks inside markdown are code, not MyST
        text = re.sub(r"^```[^{\n]*\n.*?^```", "", _src(cell), flags=re.DOTALL | re.MULTILINE)
        for what, rx in RAW_MYST.items():
            for m in rx.finditer(text):
                bad.append(f"cell {i}: {what}: {text[max(0, m.start() - 30):m.end() + 30]!r}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("md", MDS, ids=lambda p: p.stem)
def test_code_cells_are_the_md_code_cells(md):
    text_nb = jupytext.read(md)
    ipynb = _ipynb(md)
    ours = [(c.source, dict(c.metadata)) for c in text_nb.cells if c.cell_type == "code"]
    theirs = [(_src(c), c["metadata"]) for c in ipynb["cells"] if c["cell_type"] == "code"]
    assert ours == theirs
    for c in ipynb["cells"]:
        if c["cell_type"] == "code":
            assert c["outputs"] == [] and c["execution_count"] is None


@pytest.mark.parametrize("md", MDS, ids=lambda p: p.stem)
def test_nothing_pairs_the_two_files(md):
    """`jupytext --sync` must not overwrite the generated .ipynb, nor the .md from it."""
    assert "formats" not in jupytext.read(md).metadata.get("jupytext", {})
    assert "jupytext" not in _ipynb(md)["metadata"]
    assert "formats" not in (ROOT / "jupytext.toml").read_text().split("#")[0]
    toml = [ln for ln in (ROOT / "jupytext.toml").read_text().splitlines()
            if not ln.lstrip().startswith("#")]
    assert not any(ln.strip().startswith("formats") for ln in toml)


def test_make_sync_runs_the_generator():
    make = (ROOT / "Makefile").read_text()
    recipe = make.split("\nsync:", 1)[1].split("\n\n", 1)[0]
    assert "tools/sync_notebooks.py" in recipe and "jupytext --sync" not in recipe


def test_binder_renders_myst():
    env = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*-\s*jupyterlab-myst\b", env, re.MULTILINE)


def test_colab_cell_installs_the_release_tag():
    version = setup_cells.release()
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", version)
    for md in MDS:
        cell = next(c for c in _ipynb(md)["cells"] if c["cell_type"] == "code")
        assert f'"gantheory @ git+{setup_cells.repository_url()}@v{version}"' in _src(cell)


# ---------------------------------------------------------------------- the rewriting itself
def test_theorem_with_title_and_label(ctx):
    out = sn.degrade(":::{prf:theorem} Gaussian concentration\n:label: thm-x\n\n"
                     "Let $Z$ be Gaussian. Then\n\n$$\na \\le b\n$$\n\nfor all $t$.\n:::", ctx)
    assert out == ('<a id="thm-x"></a>\n\n'
                   "> **Theorem (Gaussian concentration).** Let $Z$ be Gaussian. Then\n>\n"
                   "> $$ a \\le b $$\n>\n> for all $t$.")


def test_nested_solution_with_math_is_collapsed(ctx):
    src = (":::{solution} ex-conc-max\n:class: dropdown\n\n1. First, by {prf:ref}`thm-poincare`,\n"
           "\n   $$\n   x^2 \\ge 0\n   $$\n\n```python\nprint(1)\n```\n:::")
    out = sn.degrade(src, ctx)
    assert out.startswith("<details>\n<summary><b>Solution to Exercise 1</b></summary>\n\n1. First")
    assert out.endswith("</details>")
    assert "[Theorem (Gaussian Poincaré inequality)](#thm-poincare)" in out
    assert "   $$\n   x^2 \\ge 0\n   $$" in out  # math outside a quote is kept as written
    assert "```python\nprint(1)\n```" in out


def test_cite_with_two_keys(ctx, bib):
    out = sn.degrade("GANs {cite:p}`arjovsky2017wasserstein,gulrajani2017improved`.", ctx)
    a, g = bib["arjovsky2017wasserstein"], bib["gulrajani2017improved"]
    assert out == f"GANs ({a.names()}, {a.year}; {g.names()}, {g.year})."
    assert "et al., 2017" in out
    assert sn.degrade("{cite:t}`seddik2020random`", ctx) == "Seddik et al. (2020)"
    assert sn.degrade("{cite:p}`seddik2020random`", ctx) == "(Seddik et al., 2020)"


def test_roles_targets_glue_and_code_spans(ctx):
    out = sn.degrade("(sec-x)=\n## Title\n\nSee {ref}`the part <sec-heavy-tails>`, "
                     "{doc}`02_gram_mixtures`, {glue:text}`ch01-dmax:,d`, {math}`a_i`, "
                     "{eq}`eq-1` and `{cite:p}` in code.\n\n$$ x $$ (eq-1)", ctx)
    assert out.startswith('<a id="sec-x"></a>\n\n## Title')
    assert "[the part](#sec-heavy-tails)" in out
    assert "[*" in out and "](02_gram_mixtures.ipynb)" in out
    assert "⟨ch01-dmax⟩" in out and "$a_i$" in out and "equation (eq-1)" in out
    assert "`{cite:p}` in code" in out  # code spans are left alone
    assert out.endswith("$$ x $$")


def test_admonitions(ctx):
    assert sn.degrade(":::{note}\nBe careful.\n:::", ctx) == "> **Note**\n>\n> Be careful."
    out = sn.degrade(":::{admonition} Why\n:class: dropdown\n\nBecause.\n:::", ctx)
    assert out == "<details>\n<summary><b>Why</b></summary>\n\nBecause.\n\n</details>"


def test_unknown_constructs_are_a_clear_error(ctx):
    with pytest.raises(sn.MystError, match="unknown directive"):
        sn.degrade(":::{mermaid}\ngraph\n:::", ctx)
    with pytest.raises(sn.MystError, match="unknown role"):
        sn.degrade("{wat}`x`", ctx)
    with pytest.raises(sn.MystError, match="not in references.bib"):
        sn.degrade("{cite:p}`nobody1900`", ctx)
    with pytest.raises(sn.MystError, match="unknown label"):
        sn.degrade("{prf:ref}`thm-nowhere`", ctx)
    with pytest.raises(sn.MystError, match="unclosed"):
        sn.degrade(":::{note}\nno end", ctx)
