"""Sphinx extension: make the built book work with no network, and keep its pages light.

- MathJax 3 is served from the site's own ``_static/mathjax`` (copied from the
  ``django-static-mathjax`` package, a pip-installable copy of MathJax 3.2.2) instead of a CDN,
  as the smallest set of components that typesets the book: the loader (``startup.js``), the
  TeX input (``input/tex``: base, ams, newcommand, configmacros, noundefined, require and
  autoload, which fetches any other TeX extension from the same local folder when a formula
  needs it), the CHTML output with its fonts, and the assistive-MathML component for screen
  readers. No menu and no speech components (about 0.7 MB instead of 1.3 MB).
- plotly.js is the smallest of the book's partial bundles (``book/_static/vendor/plotly``,
  built from the npm package by ``tools/plotly_bundle.py``) that holds every trace type of the
  page, added only to pages that hold a plotly figure. The build fails when a page draws a
  trace type that no bundle holds, or when the bundles are of another plotly.js version than
  the installed Python plotly.
- FontAwesome is used through its CSS and web fonts only (in pydata-sphinx-theme's stylesheet):
  the theme also loads the 1.5 MB SVG-replacing ``fontawesome.js``, which draws the same icons;
  its ``<script>`` line is taken out of the theme's template (a generated override, see
  :func:`_template_override`).
- Only the icons the site shows are kept: the theme stylesheet's icon rules and the icon web
  fonts are cut down to them after the build (:func:`slim_icons`, with fontTools).
- sphinx-thebe's scripts (unused: chapters launch in Binder or Colab) are dropped, and so are
  sphinx-design's on pages that use none of its components.
- The book's own ``gantheory.css`` and ``gantheory.js`` (``book/_static``) are added to every
  page: wide math scrolls in its box, plotly figures follow the dark mode, search snippets show
  math as text.
- The notebook kernels started by the build get ``GANTHEORY_PLOTLY=static``, so figures are
  emitted as HTML that uses the local plotly.js (see ``gantheory.plotting``): plotly's default
  renderer under a kernel produces a MIME bundle that MyST-NB silently drops. They also get
  ``GANTHEORY_PROGRESS=0``: progress bars belong to interactive runs, not to the built pages.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

HERE = Path(__file__).resolve().parent
STATIC = HERE.parent / "_static"
PLOTLY_DIR = STATIC / "vendor" / "plotly"
MATHJAX_ENTRY = "startup.js"
MATHJAX_LOAD = ["input/tex", "output/chtml", "a11y/assistive-mml"]
# the component files copied next to startup.js (paths relative to MathJax's es5 folder)
MATHJAX_FILES = ["startup.js", "core.js", "input/tex.js", "output/chtml.js",
                 "a11y/assistive-mml.js"]
MATHJAX_DIRS = ["input/tex/extensions", "output/chtml/fonts"]
ICON_CLASS = re.compile(r"\bfa-[a-z0-9-]+")
ICON_RULE = re.compile(r'((?:\.fa-[a-z0-9-]+:(?:before|after),?)+)\{content:"\\([0-9a-fA-F]+)"\}')
FONTAWESOME_JS = re.compile(r"^.*<script[^>]*fontawesome[^>]*\.js[^>]*></script>[ \t]*\n?",
                            re.MULTILINE)


def _mathjax_source() -> Path:
    import mathjax  # provided by django-static-mathjax

    root = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    missing = [f for f in MATHJAX_FILES + MATHJAX_DIRS if not (root / f).exists()]
    if missing:
        raise ExtensionError(f"MathJax components {missing} not found under {root}; "
                             "install django-static-mathjax")
    return root


def plotly_bundles() -> dict:
    """``{bundle file: set of trace types}``, smallest first (from the bundles' manifest)."""
    path = PLOTLY_DIR / "manifest.json"
    if not path.exists():
        raise ExtensionError(f"{path} is missing: run python tools/plotly_bundle.py")
    manifest = json.loads(path.read_text())
    from plotly.offline import get_plotlyjs_version

    if manifest["plotly.js"] != get_plotlyjs_version():
        raise ExtensionError(
            f"the plotly bundles are plotly.js {manifest['plotly.js']} but Python plotly makes "
            f"figures for plotly.js {get_plotlyjs_version()}: run python tools/plotly_bundle.py")
    items = sorted(manifest["bundles"].items(), key=lambda kv: kv[1]["bytes"])
    return {name: set(info["traces"]) for name, info in items}


def page_trace_types(body: str) -> set[str]:
    """Trace types of the plotly figures in a page body (its ``Plotly.newPlot`` calls).

    Each call is ``Plotly.newPlot("id", [traces...], {layout}, {config})``; the traces array
    is decoded as JSON and each trace's ``type`` read (plotly's default type is scatter).
    """
    decoder = json.JSONDecoder()
    types: set[str] = set()
    for call in body.split("Plotly.newPlot(")[1:]:
        rest = call.lstrip()
        _, end = decoder.raw_decode(rest)  # the div id
        rest = rest[end:].lstrip().lstrip(",").lstrip()
        try:
            traces, _ = decoder.raw_decode(rest)
        except json.JSONDecodeError as err:
            raise ExtensionError(f"cannot read the traces of a plotly figure: {err}") from err
        types |= {t.get("type", "scatter") for t in traces if isinstance(t, dict)}
    return types


def _template_override(app) -> Path:
    """A copy of pydata-sphinx-theme's ``static/webpack-macros.html`` without the FontAwesome
    script (the CSS and web fonts draw the same icons), in a templates folder
    that takes precedence over the theme's."""
    import pydata_sphinx_theme

    src = (Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme"
           / "static" / "webpack-macros.html")
    text = src.read_text()
    new, n = FONTAWESOME_JS.subn("", text)
    if n != 1:
        raise ExtensionError(f"expected one FontAwesome script in {src}, found {n}: "
                             "update book/_ext/offline_assets.py for this theme version")
    folder = Path(app.doctreedir).parent / "gantheory-templates"
    (folder / "static").mkdir(parents=True, exist_ok=True)
    target = folder / "static" / "webpack-macros.html"
    if not target.exists() or target.read_text() != new:
        target.write_text(new)
    return folder


#: The environment of every notebook kernel the build starts (Sphinx's, and those
#: ``tools/build_book.py`` starts to execute chapters side by side): static plotly figures, and
#: no progress bars in the built pages.
KERNEL_ENV = {"GANTHEORY_PLOTLY": "static", "GANTHEORY_PROGRESS": "0"}


def _config_inited(app, config) -> None:
    os.environ.update(KERNEL_ENV)
    config.mathjax_path = f"mathjax/{MATHJAX_ENTRY}"
    mj = dict(config.mathjax3_config or {})
    loader = dict(mj.get("loader", {}))
    loader["load"] = list(MATHJAX_LOAD)
    mj["loader"] = loader
    config.mathjax3_config = mj
    config.html_static_path = [*config.html_static_path, str(STATIC)]
    config.templates_path = [str(_template_override(app)), *config.templates_path]


def slim_icons(outdir: Path) -> dict:
    """Keep only the FontAwesome icons the site shows.

    The icon names (``fa-bars``, ...) are read from every built page and from the site's own
    scripts; the theme stylesheet keeps the ``:before`` rules of those icons only, and the web
    fonts are subset (fontTools, woff2) to their code points. Returns ``{"icons": n,
    "bytes_before": b0, "bytes_after": b1}``. Running it again changes nothing.
    """
    from fontTools import subset

    static = outdir / "_static"
    used: set[str] = set()
    for page in outdir.rglob("*.html"):
        used |= set(ICON_CLASS.findall(page.read_text(errors="ignore")))
    for script in static.rglob("*.js"):
        if "plotly" not in script.name and "mathjax" not in script.parts:
            used |= set(ICON_CLASS.findall(script.read_text(errors="ignore")))
    css_path = static / "styles" / "pydata-sphinx-theme.css"
    css = css_path.read_text()
    codepoints: set[int] = set()

    def keep(m: re.Match) -> str:
        names = re.findall(r"\.(fa-[a-z0-9-]+):", m.group(1))
        if any(n in used for n in names):
            codepoints.add(int(m.group(2), 16))
            return m.group(0)
        return ""

    slim = ICON_RULE.sub(keep, css)
    if not codepoints:
        raise ExtensionError(f"no FontAwesome icon rule found in {css_path}: the theme changed")
    fonts = sorted((static / "vendor" / "fontawesome" / "webfonts").glob("*.woff2"))
    before = len(css.encode()) + sum(f.stat().st_size for f in fonts)
    css_path.write_text(slim)
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]
    options.notdef_outline = True
    for path in fonts:
        font = subset.load_font(str(path), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=sorted(codepoints))
        subsetter.subset(font)
        subset.save_font(font, str(path), options)
    after = len(slim.encode()) + sum(f.stat().st_size for f in fonts)
    return {"icons": len(codepoints), "bytes_before": before, "bytes_after": after}


def _copy_assets(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    src = _mathjax_source()
    dest = static / "mathjax"
    if (dest / "tex-chtml-full.js").exists():  # from an older build of the book
        shutil.rmtree(dest)
    for rel in MATHJAX_FILES:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, dest / rel)
    for rel in MATHJAX_DIRS:
        shutil.copytree(src / rel, dest / rel, dirs_exist_ok=True)
    (static / "plotly.min.js").unlink(missing_ok=True)  # the full bundle of older builds
    slim_icons(Path(app.outdir))


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
    if "css_files" in context:
        context["css_files"][:] = [c for c in context["css_files"]
                                   if "sphinx-thebe" not in str(getattr(c, "filename", c))]
    body = context.get("body", "")
    if "sd-" not in body:  # sphinx-design (added by jupyter-book): no component on this page
        if "css_files" in context:
            context["css_files"][:] = [c for c in context["css_files"]
                                       if "sphinx-design" not in str(getattr(c, "filename", c))]
        if "script_files" in context:
            context["script_files"][:] = [
                s for s in context["script_files"]
                if "design-tabs" not in str(getattr(s, "filename", s))]
    if "Plotly.newPlot" in body:
        types = page_trace_types(body)
        bundles = app.env.gantheory_plotly_bundles
        for name, traces in bundles.items():
            if types <= traces:
                app.add_js_file(f"vendor/plotly/{name}", priority=100)
                break
        else:
            raise ExtensionError(f"{pagename} draws plotly traces {sorted(types)} that no "
                                 f"bundle of book/_static/vendor/plotly holds: add them to "
                                 "tools/plotly_bundle.py and rebuild the bundles")


def _builder_inited(app) -> None:
    app.env.gantheory_plotly_bundles = plotly_bundles()


def setup(app):
    _mathjax_source()  # fail early, with a clear message
    app.connect("config-inited", _config_inited)
    app.connect("builder-inited", _builder_inited)
    app.connect("html-page-context", _page_context)
    app.connect("build-finished", _copy_assets)
    app.add_css_file("gantheory.css")
    app.add_js_file("gantheory.js", loading_method="defer")
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "2.0"}
