"""Build the book: execute every notebook (cached) and write the static site.

    python tools/build_book.py                  # full CPU sizes -> _build/html
    python tools/build_book.py --quick --output _build/test-site   # small sizes (tests)

jupyter-cache keys its cache on the notebooks' code cells only, so a change in ``lib/``, in the
saved GPU results (``artifacts/``) or in the pinned dependencies would otherwise reuse stale
outputs: this script hashes ``lib/``, ``artifacts/`` and ``pyproject.toml`` (less its ``site``
and ``test`` extras, tools that change no executed output) and clears the execution cache when
the hash changes. Quick and full builds use separate output folders, hence
separate caches. Warnings are errors (``-W``).

After the build, the claim records that the chapters left in their executed outputs (see
``gantheory.claims``; read back from the execution cache) are collected into
``_build/claims.json`` and rendered as the page ``book/checked-claims.md`` (generated, not
committed); when that page changed, Sphinx runs once more (every chapter then comes from the
cache). The build fails when a claim failed, a chapter
recorded no claim, a not-checked claim gives no reason, or a record is from another run mode.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CLAIMS_PAGE = ROOT / "book" / "checked-claims.md"
PLACEHOLDER = """(checked-claims)=
# Checked claims

This page is written by `tools/build_book.py` from the claims the chapters record as they run.
"""


# extras of pyproject.toml that cannot change an executed output (site and test tools)
UNHASHED_EXTRAS = ("site", "test")


def _pyproject_for_hash() -> bytes:
    """pyproject.toml without the extras of :data:`UNHASHED_EXTRAS`, as canonical JSON."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = data.get("project", {}).get("optional-dependencies", {})
    for name in UNHASHED_EXTRAS:
        extras.pop(name, None)
    return json.dumps(data, sort_keys=True).encode()


def code_hash() -> str:
    """Hash of everything outside the notebooks that can change executed outputs: ``lib/``,
    ``artifacts/`` and ``pyproject.toml`` (without its site and test extras)."""
    h = hashlib.sha256()
    files = sorted((ROOT / "lib").rglob("*.py")) + sorted((ROOT / "artifacts").glob("*"))
    for path in files:
        h.update(path.relative_to(ROOT).as_posix().encode())
        h.update(path.read_bytes())
    h.update(b"pyproject.toml")
    h.update(_pyproject_for_hash())
    return h.hexdigest()[:16]


def chapter_docs() -> list[str]:
    """The notebook chapters of ``_toc.yml`` (docnames such as ``notebooks/02_gram_mixtures``),
    in book order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    return [f for f in files if f.startswith("notebooks/")]


def _title(docname: str) -> str:
    for line in (ROOT / f"{docname}.md").read_text().splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return docname


def chapters_not_in_cache(cache_path: Path) -> list[str]:
    """The notebook chapters whose current code has no executed copy in the cache."""
    import jupytext
    from jupyter_cache import get_cache

    if not cache_path.exists():
        return chapter_docs()
    cache = get_cache(str(cache_path))
    missing = []
    for doc in chapter_docs():
        try:
            cache.match_cache_notebook(jupytext.read(ROOT / f"{doc}.md"))
        except KeyError:
            missing.append(doc)
    return missing


def collect_claims(build_dir: Path, mode: str) -> tuple[list, str, list[str]]:
    """(records, page source, problems) from the executed notebooks in the execution cache.

    The records are read from jupyter-cache, not from ``jupyter_execute/``: MyST-NB writes the
    notebooks it took from the cache there without their outputs.
    """
    import jupytext
    from jupyter_cache import get_cache

    from gantheory import claims

    cache = get_cache(str(build_dir / ".jupyter_cache"))
    notebooks, chapters, problems = [], {}, []
    for doc in chapter_docs():
        try:
            _, nb = cache.merge_match_into_notebook(jupytext.read(ROOT / f"{doc}.md"))
        except KeyError:
            problems.append(f"{doc}: not in the execution cache {cache.path}")
            continue
        recs = claims.records_in_notebook(nb)
        if not recs:
            problems.append(f"{doc} recorded no claim")
            continue
        chapters[recs[0].chapter] = (doc, _title(doc))
        notebooks.append((doc, nb))
    records = claims.collect(notebooks)
    problems += claims.failures(records, mode=mode)
    return records, claims.render_page(records, chapters, mode), problems


#: Execution budget of every chapter at CPU sizes (seconds; README, "Build budgets").
CHAPTER_BUDGET_S = 120


def execution_times(cache_path: Path) -> list[tuple[str, float | None, str]]:
    """``(docname, seconds, when)`` per chapter: the execution time jupyter-cache recorded for
    the chapter's current code (None when it is not in the cache) and when that ran."""
    import jupytext
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_path))
    rows = []
    for doc in chapter_docs():
        try:
            rec = cache.match_cache_notebook(jupytext.read(ROOT / f"{doc}.md"))
        except KeyError:
            rows.append((doc, None, ""))
            continue
        seconds = (rec.data or {}).get("execution_seconds")
        rows.append((doc, None if seconds is None else float(seconds),
                     rec.created.strftime("%Y-%m-%d %H:%M")))
    return rows


def print_execution_times(cache_path: Path, budget: float = CHAPTER_BUDGET_S) -> None:
    """Print each chapter's execution time against its budget (a report, not a check: timings
    depend on the machine and its load)."""
    rows = execution_times(cache_path)
    print(f"chapter execution times (budget {budget:.0f} s each; from the execution cache):")
    total = 0.0
    for doc, seconds, when in rows:
        if seconds is None:
            print(f"  {doc:40s}      -  (not in the cache)")
            continue
        total += seconds
        flag = "ok" if seconds <= budget else "OVER BUDGET"
        print(f"  {doc:40s} {seconds:6.0f} s  {flag:11s} (executed {when})")
    print(f"  {'all chapters':40s} {total:6.0f} s")


def _sphinx(cmd: list[str], env: dict) -> int:
    print("+", " ".join(cmd), flush=True)
    start = time.perf_counter()
    rc = subprocess.call(cmd, env=env, cwd=ROOT)
    print(f"book build finished with code {rc} in {time.perf_counter() - start:.0f} s",
          flush=True)
    return rc


def build(output: Path, quick: bool, rebuild_all: bool = False) -> int:
    output = output if output.is_absolute() else ROOT / output
    build_dir = output / "_build"
    cache = build_dir / ".jupyter_cache"
    stamp = build_dir / ".gantheory-code-hash"
    digest = code_hash()
    if cache.exists() and (not stamp.exists() or stamp.read_text().strip() != digest):
        print(f"lib/, artifacts/ or pyproject.toml changed: clearing the execution cache {cache}")
        shutil.rmtree(cache)
    # Stamped now, not after a successful build: whatever the cache holds from here on was
    # executed with this code, and a build that fails later (e.g. in Sphinx) keeps it.
    build_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest + "\n")
    # Sphinx re-reads (and so executes) only pages whose source changed: a chapter missing from
    # a cleared or partial cache gets its modification time touched so that it is read again.
    for doc in chapters_not_in_cache(cache):
        os.utime(ROOT / f"{doc}.md")
    env = dict(os.environ)
    if quick:
        env["GANTHEORY_QUICK"] = "1"
    else:
        env.pop("GANTHEORY_QUICK", None)
    if not CLAIMS_PAGE.exists():
        CLAIMS_PAGE.write_text(PLACEHOLDER)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(ROOT), "--path-output", str(output), "-W", "--keep-going"]
    if rebuild_all:
        cmd.append("--all")  # re-read every page; executed outputs still come from the cache
    print("(GANTHEORY_QUICK=1)" if quick else "(full sizes)", flush=True)
    rc = _sphinx(cmd, env)
    if rc != 0:
        return rc
    if quick:  # the run mode of the chapters' kernels, for checking the ledger
        os.environ["GANTHEORY_QUICK"] = "1"
    else:
        os.environ.pop("GANTHEORY_QUICK", None)
    from gantheory.config import run_mode

    mode = run_mode()
    records, page, problems = collect_claims(build_dir, mode)
    (build_dir / "claims.json").write_text(
        json.dumps([r.to_dict() for r in records], indent=1) + "\n")
    n_ok = sum(r.holds for r in records)
    n_nc = sum(r.status == "not checked" for r in records)
    print(f"claims: {len(records)} recorded in {mode} mode, {n_ok} hold, {n_nc} not checked; "
          f"ledger {build_dir / 'claims.json'}")
    if CLAIMS_PAGE.read_text() != page:
        CLAIMS_PAGE.write_text(page)
        rc = _sphinx(cmd, env)  # the claims page changed: every chapter comes from the cache
        if rc != 0:
            return rc
    print_execution_times(cache)
    if problems:
        print("the claims ledger has problems:\n- " + "\n- ".join(problems))
        return 1
    print(f"site: {build_dir / 'html' / 'index.html'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (GANTHEORY_QUICK=1)")
    parser.add_argument("--output", type=Path, default=ROOT, help="--path-output of jupyter-book")
    parser.add_argument("--all", action="store_true", help="re-read every page (jb build --all)")
    args = parser.parse_args()
    return build(args.output, args.quick, args.all)


if __name__ == "__main__":
    raise SystemExit(main())
