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


def test_eigenvector_figure_panels():
    labels = np.array([0, 0, 1, 1])
    vecs = np.arange(8.0).reshape(4, 2)
    fig = gp.eigenvector_figure({"a": vecs, "b": -vecs}, labels)
    assert len(fig.data) == 4 and sum(t.showlegend for t in fig.data) == 2
    with pytest.raises(ValueError):
        gp.eigenvector_figure({"a": vecs[:3]}, labels)


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
