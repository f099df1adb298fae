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


def count_isolated(eigs, *, zero_tol: float = 1e-8, max_count: int | None = None,
                   gap: float = 1.0) -> int:
    """How many of the largest eigenvalues are *isolated*: far beyond the rest of the spectrum.

    With the non-zero eigenvalues (above ``zero_tol * max``) sorted as
    ``l_1 >= l_2 >= ... >= l_m``, the ``j`` largest are isolated when the gap below them is at
    least ``gap`` times the width of what lies under it: ``l_j - l_{j+1} >= gap (l_{j+1} - l_m)``.
    The count is the largest such ``j`` up to ``max_count`` (default ``min(10, (m - 1) // 4)``,
    so that at least three quarters of the spectrum always stay in the bulk), 0 when there is
    none. With the default ``gap = 1`` an eigenvalue is isolated when it lies beyond about twice
    the bulk's right edge, where drawing it on the bulk's axis would squeeze the bulk into less
    than half of the figure. For a spectrum without outliers (Marchenko-Pastur) it is 0.
    """
    eigs = np.sort(np.asarray(eigs, dtype=np.float64).ravel())[::-1]
    if eigs.size == 0 or not np.all(np.isfinite(eigs)):
        raise ValueError("eigs must be a non-empty array of finite numbers")
    if gap <= 0:
        raise ValueError(f"gap must be positive, got {gap}")
    top = eigs[0]
    nonzero = eigs[eigs > zero_tol * top] if top > 0 else eigs[:0]
    m = nonzero.size
    limit = min(10, (m - 1) // 4) if max_count is None else min(int(max_count), m - 1)
    count = 0
    for j in range(1, limit + 1):  # l_j is nonzero[j - 1]
        if nonzero[j - 1] - nonzero[j] >= gap * (nonzero[j] - nonzero[-1]):
            count = j
    return count


def _fmt_eig(value: float) -> str:
    """An eigenvalue for a legend or hover: three significant digits, no exponent below 10^5."""
    return f"{value:.3g}" if abs(value) < 1e5 else f"{value:.2e}"


def spectrum_figure(spectra: dict, n: int, *, theory=None, title: str = "Spectrum of G",
                    bins: int = 60, zero_tol: float = 1e-8, spikes="auto",
                    log_x="auto") -> go.Figure:
    """Histograms of Gram spectra against a limiting density, drawn at the scale of the bulk.

    ``spectra`` maps a legend name to the eigenvalues ``(n,)`` of an ``n x n`` Gram matrix.
    Eigenvalues below ``zero_tol * max`` (the atom at 0) are left out of the histogram; its mass
    (the fraction of the ``n`` eigenvalues that are 0) is written in the legend. The histogram
    is normalized by ``n``, so that it estimates the density returned by
    :func:`gantheory.rmt.gram_spectral_density`. ``theory`` is ``(x, density)`` or ``None``.

    Isolated eigenvalues (spikes, e.g. the common mean of uncentred features, thousands of times
    the bulk) would squeeze the bulk into one bar at 0. ``spikes`` says which are isolated:
    ``"auto"`` (default) counts them per spectrum with :func:`count_isolated`; an integer ``k``
    takes the ``k`` largest of each spectrum; ``0`` or ``None`` none (the axis then covers
    every eigenvalue). The x-axis ends a little beyond the rest (the bulk, and the support of
    ``theory``); the isolated ones are left out of the histogram and *marked* at the right edge
    of the axis (a triangle each, its value in the hover) and listed, with their values (the
    first four), in the legend ("k isolated, off scale: ...").

    ``log_x``: a bulk that spans decades (the features of trained networks, whose covariances
    decay) is unreadable on a linear axis. With ``True``, or with ``"auto"`` (default) when half
    of the bulk lies in the lowest 5% of the linear axis, the x-axis is logarithmic, the bins
    are equal in ``log10`` of the eigenvalue and the histogram (a filled step line) and the
    theory estimate the density of ``log10`` of the eigenvalue, as a fraction of ``n`` per
    decade (``density(x) * x * ln 10``).

    ``bins`` is the most bins drawn: a spectrum of ``m`` eigenvalues (outside the atom and the
    isolated ones) gets ``max(10, 2 sqrt(m))`` if that is fewer.
    """
    if not spectra:
        raise ValueError("spectra is empty")
    if spikes is None:
        spikes = 0
    if not (spikes == "auto" or (isinstance(spikes, (int, np.integer))
                                 and not isinstance(spikes, bool) and spikes >= 0)):
        raise ValueError(f"spikes must be 'auto', None or an integer >= 0, got {spikes!r}")
    if log_x not in ("auto", True, False):
        raise ValueError(f"log_x must be 'auto', True or False, got {log_x!r}")
    top = max(float(np.max(e)) for e in spectra.values())
    parts = {}  # name -> (bulk, isolated (descending), fraction of zeros)
    for name, eigs in spectra.items():
        eigs = np.sort(np.asarray(eigs, dtype=np.float64).ravel())
        nonzero = eigs[eigs > zero_tol * top]
        k = count_isolated(nonzero, zero_tol=0.0) if spikes == "auto" else int(spikes)
        k = min(k, max(nonzero.size - 1, 0))
        parts[name] = (nonzero[:nonzero.size - k], nonzero[nonzero.size - k:][::-1],
                       1 - nonzero.size / eigs.size)
    bulks = [b for b, _, _ in parts.values() if b.size]
    pooled = np.concatenate(bulks) if bulks else np.array([top])
    any_isolated = any(iso.size for _, iso, _ in parts.values())
    right = float(pooled.max())
    if theory is not None:
        x_th, dens = (np.asarray(a, dtype=np.float64) for a in theory)
        if x_th.shape != dens.shape or x_th.ndim != 1:
            raise ValueError("theory must be (x, density), two 1-D arrays of one length")
        # its support: where it is above 1e-3 of a uniform density over [0, bulk edge]
        support = x_th[dens > 1e-3 / right]
        if support.size:
            right = max(right, float(support.max()))
    if log_x == "auto":
        log_x = bool(np.median(pooled) < 0.05 * right) and float(pooled.min()) > 0
    # a small spectrum gets fewer bins (2 sqrt(m), at least 10): one bar per eigenvalue says
    # nothing about a density
    smallest = min((b.size for b in bulks), default=0)
    bins = int(min(bins, max(10, np.ceil(2 * np.sqrt(smallest)))))
    if log_x:
        lo = float(pooled.min()) / 1.2
        hi = right * (1.2 if any_isolated else 1.05)
        edges = np.logspace(np.log10(lo), np.log10(hi), bins + 1)
        widths = np.diff(np.log10(edges))  # per decade
        fig = figure(title, "eigenvalue of G (log scale)", "density per decade", log_x=True)
        axis_range = [np.log10(lo), np.log10(hi)]  # plotly's log axes take log10 ranges

        def at(frac):  # the point at a fraction of the x-axis
            return 10 ** (np.log10(lo) + frac * (np.log10(hi) - np.log10(lo)))
    else:
        lo, hi = 0.0, right * (1.05 if any_isolated else 1.02)
        edges = np.linspace(lo, hi, bins + 1)
        widths = np.diff(edges)
        fig = figure(title, "eigenvalue of G", "density")
        axis_range = [lo, hi]

        def at(frac):
            return lo + frac * (hi - lo)
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    y_top = 0.0
    for i, (name, (bulk, _, zeros)) in enumerate(parts.items()):
        counts, _ = np.histogram(bulk, bins=edges)
        heights = counts / (n * widths)
        y_top = max(y_top, float(heights.max(initial=0.0)))
        label = name if zeros < 1e-12 else f"{name}<br>(atom at 0, not drawn: {zeros:.0%} of n)"
        color = palette[i % len(palette)]
        if log_x:  # a filled step line: bars have no width on a log axis
            fig.add_trace(go.Scatter(
                x=as_plot_array(edges), y=as_plot_array(np.r_[heights, heights[-1]]),
                name=label, mode="lines", line=dict(shape="hv", color=color, width=1.5),
                fill="tozeroy", opacity=0.55,
                hovertemplate="eigenvalue from %{x}<br>density %{y}<extra></extra>"))
        else:
            fig.add_trace(go.Bar(x=as_plot_array((edges[1:] + edges[:-1]) / 2),
                                 y=as_plot_array(heights), name=label, opacity=0.55,
                                 marker_color=color,
                                 hovertemplate="eigenvalue %{x}<br>density %{y}<extra></extra>"))
    if theory is not None:
        keep = (x_th <= hi) & (x_th >= lo)
        shown = dens * x_th * np.log(10) if log_x else dens
        fig.add_trace(go.Scatter(x=as_plot_array(x_th[keep]), y=as_plot_array(shown[keep]),
                                 name="theory", mode="lines", line=dict(color="black", width=2)))
        # the y-axis ignores the first bin: a smoothed density (Stieltjes transform at
        # z = x + i eta) carries there the Cauchy bump of the atom at 0, which is not drawn
        beyond = keep & (x_th >= edges[1])
        y_top = max(y_top, float(np.max(shown[beyond], initial=0.0)))
    y_top = y_top or 1.0
    for i, (name, (_, iso, _)) in enumerate(parts.items()):
        if not iso.size:
            continue
        values = ", ".join(_fmt_eig(v) for v in iso[:4])  # the rest in the hover
        values += ", ..." if iso.size > 4 else ""
        fig.add_trace(go.Scatter(
            x=np.full(iso.size, at(0.985 - 0.04 * i), dtype=np.float64),
            y=as_plot_array(y_top * (0.95 - 0.07 * np.arange(iso.size))),
            mode="markers", marker=dict(symbol="triangle-right", size=11,
                                        color=palette[i % len(palette)],
                                        line=dict(width=1, color="black")),
            name=f"{name}: {iso.size} isolated,<br>off scale: {values}",
            customdata=iso.astype(np.float32),
            hovertemplate=f"{name}<br>isolated eigenvalue %{{customdata:.4~g}} (off scale)"
                          "<extra></extra>"))
    fig.update_xaxes(range=axis_range)
    fig.update_yaxes(range=[0.0, 1.08 * y_top])
    fig.update_layout(barmode="overlay", bargap=0)
    return fig


def eigenvector_figure(panels: dict, labels, *, title: str = "Top two eigenvectors of G",
                       class_names: dict | None = None) -> go.Figure:
    """Side-by-side scatter plots of the top-2 eigenvector entries, colored by class.

    ``panels`` maps a panel title to an ``(n, 2)`` array of eigenvectors; ``labels`` ``(n,)``.
    ``class_names`` (optional) maps a label to a name shown in the legend, as
    ``"name (label)"`` (e.g. ``{947: "mushroom"}`` for ImageNet ids); otherwise ``"class label"``.
    """
    from plotly.subplots import make_subplots

    labels = np.asarray(labels)
    names = {} if class_names is None else {_key(k): str(v) for k, v in class_names.items()}
    # a long panel title is cut in two lines: side by side on a phone, each panel is narrow
    titles = [t if len(t) <= 18 or " " not in t else "<br>".join(t.rsplit(" ", 1))
              for t in map(str, panels)]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=titles)
    fig.update_annotations(font_size=12)  # two lines of it fit the book's top margin
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    for col, (_name, vecs) in enumerate(panels.items(), start=1):
        vecs = np.asarray(vecs)
        if vecs.ndim != 2 or vecs.shape != (labels.size, 2):
            raise ValueError(f"each panel must be (n, 2) with n = {labels.size}")
        for i, cls in enumerate(np.unique(labels)):
            idx = labels == cls
            key = _key(cls)
            legend = f"{names[key]} ({cls})" if key in names else f"class {cls}"
            fig.add_trace(go.Scatter(x=as_plot_array(vecs[idx, 0]), y=as_plot_array(vecs[idx, 1]),
                                     mode="markers", marker=dict(size=4, color=palette[i % 6]),
                                     name=legend, legendgroup=str(cls),
                                     showlegend=col == 1), row=1, col=col)
        fig.update_xaxes(title_text="eigenvector 1", row=1, col=col)
        if col == 1:
            fig.update_yaxes(title_text="eigenvector 2", row=1, col=col)
    fig.update_layout(title=title, template=TEMPLATE, height=460,
                      legend=dict(orientation="h", yanchor="top", y=-0.2, x=0),
                      margin=dict(l=60, r=20, t=80, b=110))
    return fig


def _key(label):
    """A class label as a dict key that matches across numpy and Python types."""
    item = label.item() if isinstance(label, np.generic) else label
    return int(item) if isinstance(item, (int, float)) and float(item).is_integer() else str(item)


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
