"""The static plotly renderer used by the book build."""

import importlib

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

import gantheory.plotting as gp


def test_static_renderer_emits_html_without_plotlyjs():
    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    renderer = gp.StaticHtmlRenderer()
    html = renderer.to_mimebundle(fig.to_dict())["text/html"]
    assert "Plotly.newPlot" in html and 'class="plotly-graph-div"' in html
    assert len(html) < 20_000  # no embedded plotly.js
    again = gp.StaticHtmlRenderer().to_mimebundle(fig.to_dict())["text/html"]
    assert html == again  # deterministic div id: same build, same page
    second = renderer.to_mimebundle(fig.to_dict())["text/html"]
    assert second != html  # two displays of one figure on a page get distinct ids


def test_renderer_selected_by_environment(monkeypatch):
    default = pio.renderers.default
    try:
        monkeypatch.setenv(gp.RENDERER_ENV, "static")
        importlib.reload(gp)
        assert pio.renderers.default == gp.RENDERER_NAME
    finally:
        pio.renderers.default = default


def test_figure_layout_and_log_axes():
    fig = gp.figure("t", "x", "y", log_x=True, log_y=True, height=300)
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert fig.layout.height == 300 and fig.layout.title.text == "t"


def test_as_plot_array_thins_and_casts():
    arr = gp.as_plot_array(np.arange(10_000), max_points=100)
    assert arr.dtype == np.float32 and arr.size == 100 and arr[0] == 0 and arr[-1] == 9999
    assert gp.as_plot_array([1, 2, 3]).tolist() == [1, 2, 3]
    with pytest.raises(ValueError):
        gp.as_plot_array([1, 2], max_points=1)


def test_spectrum_figure_normalizes_like_the_density():
    eigs = np.r_[np.zeros(50), np.linspace(1, 2, 50)]
    fig = gp.spectrum_figure({"data": eigs}, n=100, theory=(np.array([1.0, 2.0]),
                                                           np.array([0.5, 0.5])), bins=20)
    bar = fig.data[0]
    width = float(bar.x[1] - bar.x[0])
    assert np.sum(bar.y) * width == pytest.approx(0.5, rel=1e-3)  # zeros left out: mass 1/2
    assert fig.data[1].name == "theory"
    with pytest.raises(ValueError):
        gp.spectrum_figure({}, n=10)


def test_spectrum_figure_draws_the_bulk_and_marks_the_spikes():
    rng = np.random.default_rng(0)
    g = rng.standard_normal((200, 400))
    bulk = np.linalg.eigvalsh(g @ g.T / 400)  # Marchenko-Pastur, edge about (1 + 1/sqrt 2)^2
    eigs = np.r_[np.zeros(200), bulk[:-3], 41.0, 190.0, 1285.0]  # uncentred: a mean spike
    other = np.r_[np.zeros(200), bulk[:-3], 40.0, 191.0, 1279.0]
    fig = gp.spectrum_figure({"GAN": eigs, "surrogate": other}, n=400)
    lo, hi = fig.layout.xaxis.range
    assert lo == 0 and bulk[-4] < hi < 1.1 * bulk[-4]  # the bulk, a little beyond its edge
    bars = [t for t in fig.data if t.type == "bar"]
    assert all(max(b.x) < hi for b in bars)
    width = float(bars[0].x[1] - bars[0].x[0])
    assert np.sum(bars[0].y) * width == pytest.approx(197 / 400, rel=1e-3)  # no atom, no spikes
    assert "50% of n" in bars[0].name  # the atom's mass, said in the legend
    marks = [t for t in fig.data if t.type == "scatter" and "isolated" in t.name]
    assert len(marks) == 2 and all(len(m.x) == 3 for m in marks)
    assert "3 isolated" in marks[0].name and "off scale: 1.28e+03" in marks[0].name
    assert sorted(marks[0].customdata) == pytest.approx([41.0, 190.0, 1285.0])
    assert all(0 < x <= hi for m in marks for x in m.x)  # drawn at the right edge, on the axis
    assert "off scale" in marks[0].hovertemplate
    # an explicit count, and none at all (the axis then covers every eigenvalue)
    two = gp.spectrum_figure({"GAN": eigs}, n=400, spikes=2, log_x=False)
    assert 41.0 < two.layout.xaxis.range[1] < 190.0
    none = gp.spectrum_figure({"GAN": eigs}, n=400, spikes=0, log_x=False)
    assert none.layout.xaxis.range[1] > 1285.0
    with pytest.raises(ValueError, match="spikes"):
        gp.spectrum_figure({"GAN": eigs}, n=400, spikes="many")
    with pytest.raises(ValueError, match="log_x"):
        gp.spectrum_figure({"GAN": eigs}, n=400, log_x="yes")


def test_spectrum_figure_goes_logarithmic_for_a_bulk_over_decades():
    rng = np.random.default_rng(2)
    bulk = 10 ** rng.uniform(-4, 0, 300)  # a decaying covariance: eigenvalues over four decades
    eigs = np.r_[np.zeros(100), bulk, 80.0, 1300.0]
    fig = gp.spectrum_figure({"data": eigs}, n=402)
    assert fig.layout.xaxis.type == "log"
    lo, hi = fig.layout.xaxis.range  # log10 units
    assert lo < -4 and 0 < hi < np.log10(80.0)  # the bulk, not the spikes
    step = fig.data[0]
    assert step.line.shape == "hv" and "25% of n" in step.name
    per_decade = np.asarray(step.y[:-1]) * np.diff(np.log10(np.asarray(step.x, dtype=float)))
    assert per_decade.sum() == pytest.approx(300 / 402, rel=1e-3)  # fraction of n per decade
    marks = [t for t in fig.data if "isolated" in (t.name or "")]
    assert len(marks) == 1 and sorted(marks[0].customdata) == pytest.approx([80.0, 1300.0])
    assert all(10**lo < x < 10**hi for x in marks[0].x)
    # the theory is drawn as the density of log10(x): density(x) x ln 10
    x = np.logspace(-4, 0, 50)
    th = gp.spectrum_figure({"data": eigs}, n=402, theory=(x, 1 / x))
    line = [t for t in th.data if t.name == "theory"][0]
    assert np.allclose(line.y, np.log(10), rtol=1e-5)
    linear = gp.spectrum_figure({"data": eigs}, n=402, log_x=False)
    assert linear.layout.xaxis.type != "log" and linear.data[0].type == "bar"


def test_spectrum_figure_axis_covers_the_theory_and_clips_it():
    eigs = np.linspace(1, 2, 50)
    x = np.linspace(0, 10, 101)
    dens = np.where((x > 0.5) & (x <= 3.0), 1.0, 0.0)
    fig = gp.spectrum_figure({"data": eigs}, n=50, theory=(x, dens))
    assert 3.0 <= fig.layout.xaxis.range[1] < 3.2  # the support of the law, not its grid
    assert max(fig.data[-1].x) <= fig.layout.xaxis.range[1]
    assert "atom" not in fig.data[0].name  # no zero eigenvalue: nothing to say


def test_count_isolated():
    rng = np.random.default_rng(1)
    g = rng.standard_normal((300, 600))
    mp = np.linalg.eigvalsh(g @ g.T / 600)
    assert gp.count_isolated(mp) == 0
    assert gp.count_isolated(np.r_[mp, 30.0, 31.0]) == 2
    assert gp.count_isolated(np.r_[np.zeros(100), mp, 4000.0]) == 1  # zeros are not the bulk
    assert gp.count_isolated(np.r_[mp, 30.0], max_count=0) == 0
    assert gp.count_isolated([1.0, 100.0]) == 0  # at least three quarters stay in the bulk
    with pytest.raises(ValueError):
        gp.count_isolated([])


def test_eigenvector_figure_panels():
    labels = np.array([0, 0, 1, 1])
    vecs = np.arange(8.0).reshape(4, 2)
    fig = gp.eigenvector_figure({"a": vecs, "b": -vecs}, labels)
    assert len(fig.data) == 4 and sum(t.showlegend for t in fig.data) == 2
    assert fig.data[0].name == "class 0"
    with pytest.raises(ValueError):
        gp.eigenvector_figure({"a": vecs[:3]}, labels)


def test_eigenvector_figure_names_the_classes():
    labels = np.array([947, 947, 963, 933])
    vecs = np.arange(8.0).reshape(4, 2)
    names = {947: "mushroom", 963: "pizza", 933: "cheeseburger"}
    fig = gp.eigenvector_figure({"a": vecs}, labels, class_names=names)
    assert [t.name for t in fig.data] == ["cheeseburger (933)", "mushroom (947)", "pizza (963)"]
    partial = gp.eigenvector_figure({"a": vecs}, labels.astype(np.int64),
                                    class_names={947: "mushroom"})
    assert [t.name for t in partial.data] == ["class 933", "mushroom (947)", "class 963"]


def test_static_renderer_moves_the_title_into_html():
    fig = gp.figure("Spread <i>vs</i> d", "x", "y")
    fig.add_scatter(x=[1, 2], y=[3, 4])
    html = gp.StaticHtmlRenderer().to_mimebundle(fig.to_dict())["text/html"]
    assert html.startswith('<p class="gantheory-figure-title">Spread <i>vs</i> d</p>')
    plot_json = html.split("Plotly.newPlot(", 1)[1]
    assert "Spread" not in plot_json  # not drawn a second time by plotly
    assert '"t":36' in plot_json.replace(" ", "")  # the top margin shrinks to the modebar's
    untitled = go.Figure(go.Scatter(x=[1], y=[2]))
    assert "gantheory-figure-title" not in gp.StaticHtmlRenderer().to_mimebundle(
        untitled.to_dict())["text/html"]


def test_book_template_formats_hovers():
    template = pio.templates[gp.TEMPLATE]
    assert template.layout.xaxis.hoverformat == ".4~g"
    assert template.layout.scene.zaxis.hoverformat == ".4~g"
    assert template.layout.paper_bgcolor == pio.templates["plotly_white"].layout.paper_bgcolor
    fig = gp.figure("t", "x", "y", log_y=True)
    assert fig.layout.yaxis.minorloglabels == "none" and fig.layout.yaxis.exponentformat == "power"


def test_notice_renders_as_a_warning_box_and_escapes():
    n = gp.Notice("Seeded random weights", "first <b>para</b>\n\nsecond")
    html = n._repr_html_()
    assert 'class="admonition warning gantheory-notice"' in html
    assert "&lt;b&gt;" in html and html.count("<p>") == 2
    assert repr(n).startswith("Seeded random weights: first")
    with pytest.raises(ValueError, match="title"):
        gp.Notice("  ", "x")
    with pytest.raises(TypeError, match="text"):
        gp.Notice("t", None)
