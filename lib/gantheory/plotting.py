"""Plotly figures that survive a static, offline Jupyter Book build.

Under a Jupyter kernel plotly picks the ``plotly_mimetype`` renderer, which MyST-NB does not
render: the figure silently disappears from the built page. The book's Sphinx extension
(``book/_ext/offline_assets.py``) therefore sets ``GANTHEORY_PLOTLY=static`` for the kernels it
starts, and serves one local copy of plotly.js on each page that holds a figure. With that
variable set, importing this module makes :class:`StaticHtmlRenderer` the default renderer: it
emits a ``<div>`` and a ``Plotly.newPlot`` call and *no* copy of plotly.js, with a deterministic
div id, so the same build gives byte-identical pages. Elsewhere (JupyterLab, Colab, Binder)
plotly's own defaults are left untouched.
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
        html = pio.to_html(
            fig_dict,
            include_plotlyjs=False,
            full_html=False,
            div_id=div_id,
            config={"responsive": True, "displaylogo": False},
            validate=False,
        )
        return {"text/html": html}


pio.renderers[RENDERER_NAME] = StaticHtmlRenderer()
if os.environ.get(RENDERER_ENV, "").strip().lower() == "static":
    pio.renderers.default = RENDERER_NAME

TEMPLATE = "plotly_white"


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
    if log_x:
        fig.update_xaxes(type="log")
    if log_y:
        fig.update_yaxes(type="log")
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
