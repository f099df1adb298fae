"""Sphinx extension: make the built book work with no network.

- MathJax 3 is served from the site's own ``_static/mathjax`` (copied from the
  ``django-static-mathjax`` package, a pip-installable copy of MathJax 3.2.2) instead of a CDN.
- plotly.js is copied from the installed ``plotly`` package to ``_static/plotly.min.js`` and
  added only to the pages that hold a plotly figure.
- sphinx-thebe's scripts (unused: chapters launch in Binder or Colab) are dropped.
- The notebook kernels started by the build get ``GANTHEORY_PLOTLY=static``, so figures are
  emitted as HTML that uses that local plotly.js (see ``gantheory.plotting``): plotly's default
  renderer under a kernel produces a MIME bundle that MyST-NB silently drops.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

MATHJAX_ENTRY = "tex-chtml-full.js"  # every TeX extension bundled: no lazy loads at run time


def _mathjax_source() -> Path:
    import mathjax  # provided by django-static-mathjax

    root = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (root / MATHJAX_ENTRY).exists():
        raise RuntimeError(f"MathJax not found at {root}; install django-static-mathjax")
    return root


def _plotly_source() -> Path:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.exists():
        raise RuntimeError(f"plotly.min.js not found at {path}")
    return path


def _config_inited(app, config) -> None:
    os.environ["GANTHEORY_PLOTLY"] = "static"
    config.mathjax_path = f"mathjax/{MATHJAX_ENTRY}"


def _copy_assets(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    src = _mathjax_source()
    dest = static / "mathjax"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / MATHJAX_ENTRY, dest / MATHJAX_ENTRY)
    shutil.copytree(src / "output" / "chtml" / "fonts", dest / "output" / "chtml" / "fonts",
                    dirs_exist_ok=True)
    shutil.copy2(_plotly_source(), static / "plotly.min.js")


def _is_thebe(script) -> bool:
    name = getattr(script, "filename", None) or str(script)
    body = getattr(script, "attributes", {}).get("body", "")
    return "sphinx-thebe" in name or "THEBE_JS_URL" in body


def _page_context(app, pagename, templatename, context, doctree) -> None:
    # Thebe (live code from a CDN kernel) is off: chapters launch in Binder or Colab. Its
    # scripts would point at a CDN and are added twice by sphinx-thebe 0.3.1 under
    # jupyter-book 1.0 (a console error: "THEBE_JS_URL has already been declared").
    if "script_files" in context:
        context["script_files"][:] = [s for s in context["script_files"] if not _is_thebe(s)]
    body = context.get("body", "")
    if "Plotly.newPlot" in body:
        app.add_js_file("plotly.min.js", priority=100)


def setup(app):
    _mathjax_source()  # fail early, with a clear message
    _plotly_source()
    app.connect("config-inited", _config_inited)
    app.connect("html-page-context", _page_context)
    app.connect("build-finished", _copy_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
