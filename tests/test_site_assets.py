"""The site's own assets, without a build: bibliography labels, plotly bundles, MathJax parts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
sys.path.insert(0, str(ROOT / "tools"))

import bibstyle  # noqa: E402
import offline_assets  # noqa: E402
import plotly_bundle  # noqa: E402


def _entries():
    from pybtex.database import parse_file

    return parse_file(str(ROOT / "book" / "references.bib")).entries


def test_bibliography_labels_are_author_year_and_unique():
    entries = _entries()
    labels = list(bibstyle.AuthorYearLabelStyle().format_labels(entries.values()))
    assert len(set(labels)) == len(labels) == len(entries)
    by_key = dict(zip(entries.keys(), labels, strict=True))
    assert by_key["seddik2020random"].startswith("Seddik et al., 2020")
    assert all(not label.strip("[]").isdigit() for label in labels)


def test_author_year_label_forms():
    from pybtex.database import Entry, Person

    def entry(*names, year="2021"):
        return Entry("article", fields={"year": year, "title": "T"},
                     persons={"author": [Person(n) for n in names]})

    assert bibstyle.author_year(entry("Villani, Cédric")) == "Villani, 2021"
    assert bibstyle.author_year(entry("Biau, G.", "Sangnier, M.")) == "Biau and Sangnier, 2021"
    assert bibstyle.author_year(entry("A, a", "B, b", "C, c")) == "A et al., 2021"
    twins = [entry("Smith, J."), entry("Smith, K.")]
    assert list(bibstyle.AuthorYearLabelStyle().format_labels(twins)) == [
        "Smith, 2021a", "Smith, 2021b"]


def test_plotly_bundles_match_the_installed_plotly():
    assert plotly_bundle.check(plotly_bundle.OUT) == []
    bundles = offline_assets.plotly_bundles()
    names = list(bundles)
    assert names == ["plotly-2d.min.js", "plotly-3d.min.js"]  # smallest first
    assert "scatter3d" in bundles["plotly-3d.min.js"] - bundles["plotly-2d.min.js"]


def test_page_trace_types_reads_every_figure_of_a_page():
    body = ('<script>Plotly.newPlot(\n "a",  [{"type": "heatmap", "z": [[1]]}, {"x": [1], '
            '"error_y": {"type": "data", "array": [1]}}], {"xaxis": {"type": "log"}})</script>'
            '<script>Plotly.newPlot("b", [{"type":"scatter3d","x":[1]}], {})</script>')
    assert offline_assets.page_trace_types(body) == {"heatmap", "scatter", "scatter3d"}
    assert offline_assets.page_trace_types('Plotly.newPlot("c", [{"x": [1]}], {})') == {
        "scatter"}


def test_the_mathjax_components_exist():
    root = offline_assets._mathjax_source()
    for rel in offline_assets.MATHJAX_FILES:
        assert (root / rel).is_file(), rel


@pytest.mark.parametrize("tex, text", [
    (r"\(x \le \sqrt{\log m}\)", "x ≤ √log m"),
    (r"\(\mathbb{R}^d\)", "ℝ^d"),
    (r"\(\mathcal N(0, I_d)\)", "N(0, I_d)"),
    (r"\(\|G\|_{\mathrm{Lip}} \le 1\)", "‖G‖_Lip ≤ 1"),
])
def test_search_snippet_math_as_text(tex, text):
    """gantheory.js turns TeX in search snippets into text; checked here with node."""
    import shutil
    import subprocess

    if shutil.which("node") is None:
        pytest.skip("node not installed")
    js = (ROOT / "book" / "_static" / "gantheory.js").read_text()
    script = ("global.window = {addEventListener(){}}; global.document = {addEventListener(){},"
              "documentElement: {dataset: {}}}; global.MutationObserver = class {observe(){}};"
              f"{js}\nprocess.stdout.write(window.gantheoryTexToText({tex!r}));")
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == text
