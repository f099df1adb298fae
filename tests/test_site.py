"""The book builds under -W, rebuilds from cache, and works offline in a real browser.

The site under test is the book readers read: the full-size build in ``_build/html`` that
``make test`` makes first with ``tools/build_book.py`` (the same command and execution cache as
``make book``; the fixture builds it when it is missing). Every page is loaded in headless Chromium
(Debian's ``chromium``; ``make test`` installs it when missing, ``GANTHEORY_CHROMIUM`` overrides
the path) with every request to a host other than the local test server blocked.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())

pytestmark = pytest.mark.site


def _build(*extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GANTHEORY_QUICK"}  # full sizes
    return subprocess.run([sys.executable, str(ROOT / "tools" / "build_book.py"), *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=3600, env=env)


def _tail(proc: subprocess.CompletedProcess, n: int = 60) -> str:
    return "\n".join((proc.stdout + proc.stderr).splitlines()[-n:])


@pytest.fixture(scope="module")
def site() -> Path:
    if not (HTML / "index.html").exists() or not (ROOT / "_build" / "claims.json").exists():
        proc = _build()
        assert proc.returncode == 0, f"book build with -W failed:\n{_tail(proc)}"
    return HTML


def test_build_is_warning_free(site):
    assert (site / "index.html").exists()
    assert (site / "notebooks" / "01_concentration.html").exists()


def test_rebuild_executes_nothing(site):
    """With no code change, a rebuild re-reads the notebooks but takes outputs from the cache."""
    proc = _build("--all")  # re-read every notebook (not left to file modification times)
    assert proc.returncode == 0, _tail(proc)
    log = proc.stdout + proc.stderr
    assert "Executing notebook" not in log, _tail(proc)
    n_notebooks = len(list((ROOT / "notebooks").glob("*.md")))
    assert log.count("Using cached notebook") == n_notebooks, _tail(proc)


def _pages(site: Path) -> list[Path]:
    """Content pages (the root index.html only redirects to the preface)."""
    return sorted(p for p in site.rglob("*.html") if "_static" not in p.parts
                  and p.relative_to(site).as_posix() not in {"index.html", "genindex.html",
                                                             "search.html"})


def test_index_redirects_to_the_preface(site):
    assert 'url=book/preface.html' in (site / "index.html").read_text()


def test_no_page_loads_an_external_resource(site):
    external = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*?(?:src|href)=["'](?:https?:)?//""")
    offenders = {}
    for page in _pages(site) + [site / "search.html"]:
        text = page.read_text()
        for tag in re.findall(r"<link\b[^>]*>", text):
            if "stylesheet" in tag and re.search(r"href=[\"'](?:https?:)?//", tag):
                offenders.setdefault(page.name, []).append(tag)
        for m in external.finditer(text):
            if m.group(0).startswith("<link") and "stylesheet" not in m.group(0):
                continue  # <link rel="canonical"> etc. are not loaded
            offenders.setdefault(page.name, []).append(m.group(0))
    assert not offenders, offenders
    assert (site / "_static" / "mathjax" / "startup.js").exists()
    assert not (site / "_static" / "plotly.min.js").exists()  # the partial bundles instead


def test_launch_buttons_point_at_committed_ipynb(site):
    repo = CONFIG["repository"]["url"].rstrip("/")
    org_repo = repo.split("github.com/")[1]
    branch = CONFIG["repository"]["branch"]
    for md in sorted((ROOT / "notebooks").glob("*.md")):
        page = (site / "notebooks" / md.with_suffix(".html").name).read_text()
        ipynb = f"notebooks/{md.stem}.ipynb"
        assert (ROOT / ipynb).exists()
        colab = f"https://colab.research.google.com/github/{org_repo}/blob/{branch}/{ipynb}"
        binder = f"https://mybinder.org/v2/gh/{org_repo}/{branch}?urlpath=lab/tree/{ipynb}"
        assert colab in page, f"Colab launch button missing on {md.name}"
        assert binder in page, f"Binder launch button missing on {md.name}"


# ----------------------------------------------------------------------------- browser


def _chromium() -> str:
    path = os.environ.get("GANTHEORY_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")
    if not path:
        pytest.fail("chromium not found: `make browser` installs Debian's chromium; "
                    "or set GANTHEORY_CHROMIUM=/path/to/chromium")
    return path


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))

    class Quiet(handler.func):  # type: ignore[misc,valid-type]
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser_report(site, server, browser):
    """Load every page once; return {page: report} with what the checks need."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    reports = {}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        for page_path in _pages(site) + [site / "search.html"]:
            rel = page_path.relative_to(site).as_posix()
            blocked, errors = [], []

            def route(r, blocked=blocked):
                if r.request.url.startswith(server):
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            page = context.new_page()
            page.route("**/*", route)
            page.on("console", lambda m, errors=errors: errors.append(m.text)
                    if m.type == "error" else None)
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            page.goto(f"{server}/{rel}", wait_until="load")
            n_math = page.evaluate("document.querySelectorAll('.math').length")
            if n_math and not page.evaluate("!!window.MathJax"):
                # e.g. math in a title shown in every page's sidebar, on a page without MathJax
                errors.append(f"{n_math} math element(s) but no MathJax on this page")
            elif n_math:
                page.wait_for_function(
                    "window.MathJax && MathJax.startup && MathJax.startup.promise")
                page.evaluate("MathJax.startup.promise")
            report = page.evaluate("""() => ({
                math: document.querySelectorAll('.math').length,
                untypeset: Array.from(document.querySelectorAll('.math'))
                    .filter(e => !e.querySelector('mjx-container'))
                    .map(e => e.textContent.slice(0, 60)),
                merror: document.querySelectorAll('mjx-merror').length,
                plots: document.querySelectorAll('.plotly-graph-div').length,
                plots_with_svg: Array.from(document.querySelectorAll('.plotly-graph-div'))
                    .filter(e => e.querySelector('svg.main-svg')).length,
                launch: Array.from(document.querySelectorAll('a'))
                    .map(a => a.href).filter(h => /mybinder|colab/.test(h)),
            })""")
            report.update(blocked=blocked, errors=errors)
            if rel.startswith("notebooks/"):
                page.screenshot(path=str(SHOTS / (page_path.stem + ".png")), full_page=False)
            reports[rel] = report
            page.close()
    finally:
        context.close()
    return reports


def test_every_page_loads_without_console_errors_or_network(browser_report):
    bad = {k: (r["errors"], r["blocked"]) for k, r in browser_report.items()
           if r["errors"] or r["blocked"]}
    assert not bad, bad


def test_math_is_typeset_on_every_page_with_math(browser_report):
    with_math = {k: r for k, r in browser_report.items() if r["math"]}
    assert "notebooks/01_concentration.html" in with_math
    bad = {k: (r["untypeset"][:3], r["merror"]) for k, r in with_math.items()
           if r["untypeset"] or r["merror"]}
    assert not bad, bad


def test_every_plotly_figure_renders_an_svg(browser_report):
    chapter = browser_report["notebooks/01_concentration.html"]
    assert chapter["plots"] >= 3
    bad = {k: r for k, r in browser_report.items() if r["plots"] != r["plots_with_svg"]}
    assert not bad, bad


def test_notebook_pages_carry_launch_buttons(browser_report):
    for rel, report in browser_report.items():
        if rel.startswith("notebooks/"):
            links = report["launch"]
            assert any("mybinder" in h and h.endswith(".ipynb") for h in links), (rel, links)
            assert any("colab" in h and h.endswith(".ipynb") for h in links), (rel, links)


def test_every_chapter_ends_with_its_claims_box_and_the_ledger_page_is_linked(site):
    import json

    records = json.loads((ROOT / "_build" / "claims.json").read_text())
    ledger_page = (site / "book" / "checked-claims.html").read_text()
    for md in sorted((ROOT / "notebooks").glob("*.md")):
        page = (site / "notebooks" / md.with_suffix(".html").name).read_text()
        assert 'class="admonition note claims-summary"' in page, md.name
        assert "checked-claims.html" in page, md.name
    for rec in records:
        assert rec["id"] in ledger_page, rec["id"]
        if rec["result"]:  # the result column links to the statement in its chapter
            assert f'#{rec["result"]}"' in ledger_page, rec["result"]
    assert "checked-claims.html" in (site / "book" / "preface.html").read_text()


def test_no_page_shows_a_raw_claim_object(site):
    """claims.claim shows its own line; a Record or Ledger repr under a cell is junk."""
    bad = {}
    for page in _pages(site):
        text = page.read_text()
        for needle in ("Record(id=", "gantheory.claims.Ledger object", "ClaimFailed"):
            if needle in text:
                bad.setdefault(page.name, []).append(needle)
    assert not bad, bad



# ------------------------------------------------------------------ outputs a reader sees

JUNK = [
    ("a warning", re.compile(r"\b[A-Z][A-Za-z]*Warning\b:")),
    ("a traceback", re.compile(r"Traceback \(most recent call last\)")),
    ("progress-bar text", re.compile(r"\d+%\|[^|]*\||\d+(?:\.\d+)?\s*(?:it|s)/(?:s|it)\]")),
    ("an absolute file path", re.compile(
        r"(?<![\w.:/])(?:/work|/home|/root|/tmp|/usr|/opt|/var|/private)/[\w.-]+|site-packages"
        r"|[A-Z]:\\\\[\w.-]+")),
]
# A cell that shows such output on purpose carries this tag (MyST-NB turns it into a class).
DECLARED = "tag_expected-output"


def page_junk(html: str) -> list[str]:
    """What a reader should not see in the executed outputs of a built page."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    found = []
    for cell in soup.select("div.cell"):
        if DECLARED in (cell.get("class") or []):
            continue
        for out in cell.select("div.cell_output"):
            for node in out.select(".output.stderr, .output.traceback"):
                found.append(f"{' '.join(node['class'])} output: "
                             f"{node.get_text(' ', strip=True)[:120]!r}")
            text = out.get_text(" ", strip=True)
            has_media = out.select("img, svg, .plotly-graph-div, table, iframe, mjx-container, "
                                   ".admonition, .math")
            if not text and not has_media:
                found.append("an empty output box")
            for what, pattern in JUNK:
                m = pattern.search(text)
                if m:
                    found.append(f"{what}: {text[max(0, m.start() - 60):m.end() + 60]!r}")
    return found


def test_junk_detector_catches_what_it_should():
    """Controls: each kind of junk, in the HTML MyST-NB writes, is found; clean output is not."""
    def cell(inner: str, tags: str = "") -> str:
        return (f'<div class="cell docutils container {tags}"><div class="cell_output docutils '
                f'container">{inner}</div></div>')

    plain = '<div class="output text_plain highlight-myst-ansi notranslate"><pre>{}</pre></div>'
    assert page_junk(cell(plain.format("42 claims hold"))) == []
    assert page_junk(cell('<div class="output text_html"><div class="plotly-graph-div">'
                          '</div></div>')) == []
    bad = {
        "stderr": cell('<div class="output stderr"><pre>oops</pre></div>'),
        "warning": cell(plain.format("x.py:3: RuntimeWarning: overflow")),
        "tqdm": cell(plain.format("GAN steps:  45%|████▌     | 450/1000 [00:02<00:03, 180.2it/s]")),
        "path": cell(plain.format("saved to /root/.cache/gantheory/x.pt")),
        "traceback": cell(plain.format("Traceback (most recent call last):")),
        "empty": cell('<div class="output text_plain"><pre></pre></div>'),
    }
    for name, html in bad.items():
        assert page_junk(html), name
    assert page_junk(cell(plain.format("UserWarning: on purpose"), DECLARED)) == []


def test_no_page_shows_stderr_warnings_progress_bars_or_machine_paths(site):
    bad = {}
    for page in _pages(site):
        junk = page_junk(page.read_text())
        if junk:
            bad[page.relative_to(site).as_posix()] = junk[:5]
    assert not bad, bad


# ----------------------------------------------------------------------------- a reader's browser

WIDTHS = (1366, 390)


@pytest.fixture(scope="module")
def browser(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=_chromium(), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        yield b
        b.close()


def _open(browser, server, rel: str, width: int):
    """A fresh context (cold cache) at ``width`` px, with ``rel`` loaded and typeset."""
    context = browser.new_context(viewport={"width": width, "height": 850})
    page = context.new_page()
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(server)
               else r.abort())
    page.goto(f"{server}/{rel}", wait_until="load")
    if page.evaluate("!!(window.MathJax && MathJax.startup && MathJax.startup.promise)"):
        page.evaluate("MathJax.startup.promise")
    page.wait_for_load_state("networkidle")
    return context, page


SIDEBAR_STATE = """() => {
    const s = document.querySelector('#pst-primary-sidebar, .bd-sidebar-primary');
    const r = s.getBoundingClientRect();
    const link = Array.from(s.querySelectorAll('nav a.reference')).find(a => {
        const q = a.getBoundingClientRect();
        return q.width > 0 && q.right > 0 && q.left < window.innerWidth;
    });
    return {open: getComputedStyle(s).visibility !== 'hidden' && r.right > 1 && r.width > 50
                  && !!link};
}"""


@pytest.mark.parametrize("width", WIDTHS)
def test_the_navigation_toggle_opens_and_closes_the_table_of_contents(browser, server, width):
    context, page = _open(browser, server, "notebooks/05_simplicial_clusters.html", width)
    try:
        toggles = [t for t in page.query_selector_all(".primary-toggle") if t.is_visible()]
        assert toggles, "no visible navigation toggle"
        before = page.evaluate(SIDEBAR_STATE)["open"]
        assert before == (width > 960), f"navigation open={before} on load at {width} px"
        toggles[0].click()
        page.wait_for_timeout(400)
        assert page.evaluate(SIDEBAR_STATE)["open"] != before, "the toggle did nothing"
        if before:  # desktop: the same button hides and shows the sidebar
            toggles[0].click()
        else:  # phone: the drawer closes with Escape, as a dialog does
            page.keyboard.press("Escape")
        page.wait_for_timeout(400)
        assert page.evaluate(SIDEBAR_STATE)["open"] == before, "the navigation did not close"
    finally:
        context.close()


OVERFLOW = """() => {
    const bad = [];
    const vw = document.documentElement.clientWidth;
    const items = document.querySelectorAll(
        'article mjx-container, article .plotly-graph-div, article img, article table');
    for (const el of items) {
        const r = el.getBoundingClientRect();
        if (r.width === 0) continue;
        let clipped = null;
        for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
            const ox = getComputedStyle(a).overflowX;
            if (ox === 'auto' || ox === 'scroll') { clipped = null; break; }
            const ar = a.getBoundingClientRect();
            const out = r.right > ar.right + 1 || r.left < ar.left - 1;
            if ((ox === 'hidden' || ox === 'clip') && out) {
                clipped = a; break;
            }
        }
        const beyond = r.right > vw + 1;
        if (clipped || (beyond && !el.closest('[style*="overflow"], .gantheory-wide-math'))) {
            let scrolls = false;
            for (let a = el.parentElement; a; a = a.parentElement) {
                const ox = getComputedStyle(a).overflowX;
                if ((ox === 'auto' || ox === 'scroll') && a.scrollWidth > a.clientWidth) {
                    scrolls = true; break;
                }
            }
            if (!scrolls) bad.push((el.tagName + ' ' + (el.textContent || '').slice(0, 50)).trim());
        }
    }
    return {bad, page_scrolls: document.documentElement.scrollWidth > vw + 1};
}"""


@pytest.mark.parametrize("width", WIDTHS)
def test_no_math_or_figure_overflows_its_box_without_a_scroll_bar(site, browser, server, width):
    bad = {}
    for page_path in _pages(site):
        rel = page_path.relative_to(site).as_posix()
        context, page = _open(browser, server, rel, width)
        try:
            report = page.evaluate(OVERFLOW)
        finally:
            context.close()
        if report["bad"] or report["page_scrolls"]:
            bad[rel] = report
    assert not bad, bad


TEXT_PAGE_LIMIT = 1.5e6   # bytes received, uncompressed, cold cache
CHAPTER_PAGE_LIMIT = 4.0e6


def test_page_weight(site, browser, server, capsys):
    """Every page loaded with a cold cache: the bytes the browser receives, uncompressed."""
    weights = {}
    for page_path in _pages(site) + [site / "search.html"]:
        rel = page_path.relative_to(site).as_posix()
        context, page = _open(browser, server, rel, 1366)
        try:
            sizes = page.evaluate("""() => performance.getEntriesByType('navigation')
                .concat(performance.getEntriesByType('resource'))
                .map(e => [e.name, e.decodedBodySize || e.encodedBodySize || 0])""")
        finally:
            context.close()
        weights[rel] = (sum(s for _, s in sizes), max(sizes, key=lambda kv: kv[1]))
    rows = sorted(weights.items(), key=lambda kv: -kv[1][0])
    with capsys.disabled():
        print("\npage weight (cold cache, uncompressed):")
        for rel, (total, (name, size)) in rows:
            print(f"  {total / 1e6:5.2f} MB  {rel}  (largest: {name.rsplit('/', 1)[-1]} "
                  f"{size / 1e6:.2f} MB)")
        print(f"  heaviest page: {rows[0][0]} ({rows[0][1][0] / 1e6:.2f} MB)")
    over = {rel: round(total / 1e6, 2) for rel, (total, _) in weights.items()
            if total > (CHAPTER_PAGE_LIMIT if rel.startswith("notebooks/") else TEXT_PAGE_LIMIT)}
    assert not over, over


# ----------------------------------------------------------------------------- figures and details

def test_plotly_figures_follow_the_dark_mode(browser, server):
    context, page = _open(browser, server, "notebooks/01_concentration.html", 1366)
    try:
        colours = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
            .map(d => d._fullLayout.paper_bgcolor)"""
        light = page.evaluate(colours)
        assert light and all(c in ("#fff", "white", "rgb(255, 255, 255)") for c in light), light
        page.evaluate("document.documentElement.dataset.theme = 'dark'")
        page.wait_for_timeout(500)
        dark = page.evaluate(colours)
        assert all(c not in light for c in dark), dark
        page.evaluate("document.documentElement.dataset.theme = 'light'")
        page.wait_for_timeout(500)
        assert page.evaluate(colours) == light
    finally:
        context.close()


def test_chapter_numbers_show_in_page_titles_and_the_table_of_contents(site):
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    chapters = [c["file"] for part in toc["parts"] for c in part["chapters"]
                if c["file"].startswith("notebooks/")]
    preface = (site / "book" / "preface.html").read_text()
    for number, doc in enumerate(chapters, start=1):
        page = (site / f"{doc}.html").read_text()
        title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
        assert title.strip().startswith(f"{number}. "), (doc, title)
        link = rf'href="[^"]*{doc.split("/")[1]}\.html"[^>]*>\s*{number}\. '
        assert re.search(link, preface), doc  # the sidebar's table of contents


def test_bibliography_labels_are_the_author_year_citations(site):
    page = (site / "book" / "bibliography.html").read_text()
    labels = re.findall(r'<span class="label"[^>]*>\s*<span class="fn-bracket">\[</span>(.*?)'
                        r'<span class="fn-bracket">\]</span>', page)
    assert len(labels) >= 30, labels[:5]
    assert not [label for label in labels if label.strip().isdigit()], labels[:5]
    assert "Seddik et al., 2020" in labels


def test_search_snippets_show_no_raw_tex(browser, server):
    context, page = _open(browser, server, "search.html?q=concentration", 1366)
    try:
        page.wait_for_function(
            "document.querySelectorAll('#search-results li p.context').length > 2",
            timeout=30_000)
        page.wait_for_timeout(1500)
        snippets = page.evaluate("""() => Array.from(
            document.querySelectorAll('#search-results li p.context')).map(p => p.textContent)""")
    finally:
        context.close()
    assert snippets
    raw = [s for s in snippets if re.search(r"\\\(|\\\)|\\\[|\\[a-zA-Z]+\{|\$\$", s)]
    assert not raw, raw[:3]


def test_latent_partition_hover_names_the_modes_as_the_figures_do(site):
    page = (site / "notebooks" / "07_trained_latents.html").read_text()
    assert "mode %{z} (-1: off target)" in page  # z = the mode index, as in the legends
