"""Plotly figures that survive a static, offline Jupyter Book build.

Under a Jupyter kernel plotly picks the ``plotly_mimetype`` renderer, which MyST-NB does not
render: the figure silently disappears from the built page. The book's Sphinx extension
(``book/_ext/offline_assets.py``) therefore sets ``GANTHEORY_PLOTLY=static`` for the kernels it
starts, and serves one local copy of plotly.js on each page that holds a figure. With that
variable set, importing this module makes :class:`StaticHtmlRenderer` the default renderer: it
emits a ``<div>`` and a ``Plotly.newPlot`` call and *no* copy of plotly.js, with a deterministic
div id, so the same build gives byte-identical pages. The figure's title is taken out of the
plotly layout and written as an HTML heading above the plot: HTML text wraps on a phone, where a
plotly title would be clipped and covered by the modebar. Elsewhere (JupyterLab, Colab, Binder)
plotly's own renderers are left untouched.

Every figure of the book uses the template :data:`TEMPLATE` (``"gantheory"``): plotly's
``plotly_white`` with hover labels rounded to four significant digits. The built site switches
figures to dark colours with the theme (``book/_static/plotly-theme.js``).
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.io._base_renderers import MimetypeRenderer

RENDERER_ENV = "GANTHEORY_PLOTLY"
RENDERER_NAME = "gantheory_static"


class StaticHtmlRenderer(MimetypeRenderer):
    """Plotly renderer emitting HTML that relies on a page-level ``plotly.min.js``."""

    def __init__(self) -> None:
        self._count = 0

    def to_mimebundle(self, fig_dict):  # noqa: D102 - plotly's renderer protocol
        self._count += 1
        payload = json.dumps(fig_dict, sort_keys=True, default=str).encode()
        div_id = f"fig-{hashlib.sha1(payload).hexdigest()[:12]}-{self._count}"
        fig_dict, title = _take_title(fig_dict)
        html = pio.to_html(
            fig_dict,
            include_plotlyjs=False,
            full_html=False,
            div_id=div_id,
            config={"responsive": True, "displaylogo": False},
            validate=False,
        )
        if title:
            html = f'<p class="gantheory-figure-title">{title}</p>\n{html}'
        return {"text/html": html}


def _take_title(fig_dict: dict) -> tuple[dict, str]:
    """(figure without its title, the title text); the top margin shrinks to the modebar's."""
    layout = dict(fig_dict.get("layout", {}))
    title = layout.pop("title", None)
    text = title.get("text", "") if isinstance(title, dict) else (title or "")
    if not text:
        return fig_dict, ""
    margin = dict(layout.get("margin", {}))
    margin["t"] = min(margin.get("t", 100), 36)
    layout["margin"] = margin
    return {**fig_dict, "layout": layout}, str(text)


pio.renderers[RENDERER_NAME] = StaticHtmlRenderer()
if os.environ.get(RENDERER_ENV, "").strip().lower() == "static":
    pio.renderers.default = RENDERER_NAME

TEMPLATE = "gantheory"
pio.templates[TEMPLATE] = go.layout.Template(pio.templates["plotly_white"])
pio.templates[TEMPLATE].layout.update(
    xaxis=dict(hoverformat=".4~g"), yaxis=dict(hoverformat=".4~g"),
    scene=dict(xaxis=dict(hoverformat=".4~g"), yaxis=dict(hoverformat=".4~g"),
               zaxis=dict(hoverformat=".4~g")),
    hoverlabel=dict(namelength=-1),
)


def figure(title: str, xaxis: str, yaxis: str, *, log_x: bool = False, log_y: bool = False,
           height: int = 480) -> go.Figure:
    """An empty figure with the book's layout (title, axis labels, optional log axes)."""
    fig = go.Figure()
    fig.update_layout(
        title=title, template=TEMPLATE, height=height,
        xaxis_title=xaxis, yaxis_title=yaxis,
        legend=dict(orientation="h", yanchor="top", y=-0.18, x=0),
        margin=dict(l=60, r=20, t=60, b=150),
    )
    # log axes: labels at the powers of ten only, written 10³ (plotly's default also labels the
    # 2s and 5s of every decade in small digits, unreadable on a phone); the other ticks stay
    # as grid lines
    log_ticks = dict(type="log", minorloglabels="none", exponentformat="power",
                     minor=dict(showgrid=True))
    if log_x:
        fig.update_xaxes(**log_ticks)
    if log_y:
        fig.update_yaxes(**log_ticks)
    return fig


def as_plot_array(values, max_points: int = 2000) -> np.ndarray:
    """float32 copy of ``values`` (1-D), evenly thinned to at most ``max_points`` entries.

    Figure data is embedded in the page, so traces are kept small.
    """
    arr = np.asarray(values, dtype=np.float32).ravel()
    if max_points < 2:
        raise ValueError("max_points must be at least 2")
    if arr.size > max_points:
        arr = arr[np.linspace(0, arr.size - 1, max_points).round().astype(int)]
    return arr


def spectrum_figure(spectra: dict, n: int, *, theory=None, title: str = "Spectrum of G",
                    bins: int = 60, zero_tol: float = 1e-8) -> go.Figure:
    """Histograms of Gram spectra against a limiting density.

    ``spectra`` maps a legend name to the eigenvalues ``(n,)`` of an ``n x n`` Gram matrix;
    eigenvalues below ``zero_tol * max`` (the atom at 0) are left out, and the histogram is
    normalized by ``n`` so that it estimates the density returned by
    :func:`gantheory.rmt.gram_spectral_density`. ``theory`` is ``(x, density)`` or ``None``.
    """
    if not spectra:
        raise ValueError("spectra is empty")
    fig = figure(title, "eigenvalue of G", "density")
    top = max(float(np.max(e)) for e in spectra.values())
    edges = np.linspace(0.0, top * 1.02, bins + 1)
    for name, eigs in spectra.items():
        eigs = np.asarray(eigs, dtype=np.float64)
        nonzero = eigs[eigs > zero_tol * top]
        counts, _ = np.histogram(nonzero, bins=edges)
        fig.add_trace(go.Bar(x=as_plot_array((edges[1:] + edges[:-1]) / 2),
                             y=as_plot_array(counts / (n * np.diff(edges))), name=name,
                             opacity=0.55))
    if theory is not None:
        x, dens = theory
        fig.add_trace(go.Scatter(x=as_plot_array(x), y=as_plot_array(dens), name="theory",
                                 mode="lines", line=dict(color="black", width=2)))
    fig.update_layout(barmode="overlay", bargap=0)
    return fig


def eigenvector_figure(panels: dict, labels, *, title: str = "Top two eigenvectors of G"
                       ) -> go.Figure:
    """Side-by-side scatter plots of the top-2 eigenvector entries, colored by class.

    ``panels`` maps a panel title to an ``(n, 2)`` array of eigenvectors; ``labels`` ``(n,)``.
    """
    from plotly.subplots import make_subplots

    labels = np.asarray(labels)
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=list(panels))
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    for col, (_name, vecs) in enumerate(panels.items(), start=1):
        vecs = np.asarray(vecs)
        if vecs.ndim != 2 or vecs.shape != (labels.size, 2):
            raise ValueError(f"each panel must be (n, 2) with n = {labels.size}")
        for i, cls in enumerate(np.unique(labels)):
            idx = labels == cls
            fig.add_trace(go.Scatter(x=as_plot_array(vecs[idx, 0]), y=as_plot_array(vecs[idx, 1]),
                                     mode="markers", marker=dict(size=4, color=palette[i % 6]),
                                     name=f"class {cls}", legendgroup=str(cls),
                                     showlegend=col == 1), row=1, col=col)
        fig.update_xaxes(title_text="eigenvector 1", row=1, col=col)
        fig.update_yaxes(title_text="eigenvector 2", row=1, col=col)
    fig.update_layout(title=title, template=TEMPLATE, height=420,
                      margin=dict(l=60, r=20, t=80, b=40))
    return fig


class Notice:
    """An expected notice shown as a visible warning box, not as a warning trace.

    ``display(Notice(title, text))`` renders as the theme's warning admonition in the built book
    and in Jupyter, and as a plain ``title: text`` line elsewhere. ``text`` is plain text (it is
    HTML-escaped); ``title`` too.
    """

    def __init__(self, title: str, text: str) -> None:
        if not isinstance(title, str) or not title.strip():
            raise ValueError("title must be a non-empty string")
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, got {type(text).__name__}")
        self.title, self.text = title.strip(), text.strip()

    def _repr_html_(self) -> str:
        import html

        body = "".join(f"<p>{html.escape(par)}</p>" for par in self.text.split("\n\n") if par)
        return (f'<div class="admonition warning gantheory-notice"><p class="admonition-title">'
                f"{html.escape(self.title)}</p>{body}</div>")

    def __repr__(self) -> str:
        return f"{self.title}: {self.text}"
