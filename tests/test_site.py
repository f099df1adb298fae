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
    assert (site / "_static" / "plotly.min.js").stat().st_size > 1_000_000
    assert (site / "_static" / "mathjax" / "tex-chtml-full.js").exists()


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
def browser_report(site, server):
    """Load every page once; return {page: report} with what the checks need."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    reports = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=_chromium(), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
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
        browser.close()
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
