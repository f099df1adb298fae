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
    ``artifacts/``, ``pyproject.toml`` (without its site and test extras) and the kernels'
    environment (:func:`kernel_env`)."""
    h = hashlib.sha256()
    files = sorted((ROOT / "lib").rglob("*.py")) + sorted((ROOT / "artifacts").glob("*"))
    for path in files:
        h.update(path.relative_to(ROOT).as_posix().encode())
        h.update(path.read_bytes())
    h.update(b"pyproject.toml")
    h.update(_pyproject_for_hash())
    h.update(b"kernel environment")  # it changes what the figures and progress bars emit
    h.update(json.dumps(kernel_env(), sort_keys=True).encode())
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


#: Execution order of a cold build, longest chapters first (the cold build of 2 December, s):
#: with chapters side by side, starting the long ones first shortens the build. Only an order;
#: a chapter missing here runs last.
COST_HINT_S = {"notebooks/04_biggan_mixtures": 152, "notebooks/07_trained_latents": 142,
               "notebooks/08_neural_ipm": 134, "notebooks/03_gan_data_mixtures": 95,
               "notebooks/01_concentration": 83, "notebooks/09_one_dimensional_latent": 64,
               "notebooks/02_gram_mixtures": 48, "notebooks/05_simplicial_clusters": 9,
               "notebooks/06_precision_bounds": 8}

#: At most this many chapters execute at once (each kernel gets cores // kernels threads).
MAX_KERNELS = 4


def kernel_plan(n_chapters: int, cores: int, kernels: int | None = None) -> tuple[int, int]:
    """``(kernels, threads)``: how many chapters execute side by side and the threads each
    kernel may use, so that ``kernels * threads <= cores`` (at least one of each).

    By default ``min(n_chapters, cores, MAX_KERNELS)`` kernels; ``kernels`` overrides it (1 is
    the old one-after-another build).
    """
    if n_chapters < 0 or cores < 1:
        raise ValueError(f"n_chapters must be >= 0 and cores >= 1, got {n_chapters}, {cores}")
    if kernels is None:
        kernels = min(n_chapters, cores, MAX_KERNELS)
    elif kernels < 1:
        raise ValueError(f"kernels must be >= 1, got {kernels}")
    kernels = max(1, min(kernels, n_chapters, cores))
    return kernels, max(1, cores // kernels)


def execute_missing(cache_path: Path, docs: list[str], kernels: int | None = None) -> list[str]:
    """Execute the chapters ``docs`` side by side and store them in the execution cache
    (jupyter-cache, as MyST-NB's cache mode would), longest first; return the chapters that
    failed (their tracebacks printed; Sphinx then executes them again and reports the error).

    Threads and processes (README, "Threads and processes"): ``k`` kernels on ``c`` cores get
    ``c // k`` threads each through ``OMP_NUM_THREADS`` and friends, and ``$GANTHEORY_CORES``
    (``gantheory.config.cpu_cores``), which bounds the worker processes a chapter starts, so
    the kernels never hold more threads than the machine has cores.
    """
    import concurrent.futures as cf

    import jupytext
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from jupyter_cache.executors.utils import single_nb_execution

    from gantheory.config import machine_cores

    if not docs:
        return []
    n_kernels, threads = kernel_plan(len(docs), machine_cores(), kernels)
    if n_kernels == 1:
        return []  # Sphinx executes them one after another, as before
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text()).get("execute", {})
    timeout = cfg.get("timeout", 900)
    order = sorted(docs, key=lambda d: -COST_HINT_S.get(d, 0))
    print(f"executing {len(order)} chapters, {n_kernels} at a time, {threads} thread(s) each: "
          + ", ".join(Path(d).name for d in order), flush=True)
    env = {**kernel_env(), **{k: str(threads) for k in THREAD_ENV}}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # inherited by every kernel started from here on

    def run(doc: str):
        nb = jupytext.read(ROOT / f"{doc}.md")
        start = time.perf_counter()
        result = single_nb_execution(nb, cwd=str((ROOT / doc).parent), timeout=timeout,
                                     allow_errors=False, meta_override=True)
        return doc, nb, result, time.perf_counter() - start

    cache = get_cache(str(cache_path))
    failed = []
    try:
        with cf.ThreadPoolExecutor(n_kernels) as pool:
            for future in cf.as_completed([pool.submit(run, d) for d in order]):
                doc, nb, result, wall = future.result()
                if result.err is not None:
                    failed.append(doc)
                    print(f"  {doc}: FAILED after {wall:.0f} s\n{result.exc_string}", flush=True)
                    continue
                cache.cache_notebook_bundle(
                    CacheBundleIn(nb, str(ROOT / f"{doc}.md"),
                                  data={"execution_seconds": result.time}),
                    check_validity=False, overwrite=True)
                print(f"  {doc}: {result.time:.0f} s", flush=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return failed


def kernel_env() -> dict[str, str]:
    """The environment the book's Sphinx extension gives the kernels it starts
    (``book/_ext/offline_assets.KERNEL_ENV``: static plotly figures, no progress bars); the
    kernels started here get the same, or the pages they fill differ from Sphinx's."""
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        import offline_assets
    finally:
        sys.path.pop(0)
    return dict(offline_assets.KERNEL_ENV)


#: The variables that set a kernel's threads (BLAS, OpenMP: torch reads OMP_NUM_THREADS) and its
#: share of cores for worker processes.
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "GANTHEORY_CORES")


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


def build(output: Path, quick: bool, rebuild_all: bool = False,
          kernels: int | None = None) -> int:
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
    missing = chapters_not_in_cache(cache)
    for doc in missing:
        os.utime(ROOT / f"{doc}.md")
    if quick:
        os.environ["GANTHEORY_QUICK"] = "1"
    else:
        os.environ.pop("GANTHEORY_QUICK", None)
    env = dict(os.environ)
    # Chapters side by side, one thread per core, before Sphinx (which then takes them from the
    # cache); a failed chapter is left for Sphinx to execute again and report.
    start = time.perf_counter()
    failed = execute_missing(cache, missing, kernels)
    if len(missing) > 1 and kernels != 1:
        print(f"chapters executed in {time.perf_counter() - start:.0f} s"
              + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
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
    parser.add_argument("--kernels", type=int, default=None,
                        help="chapters executed side by side (default: one per core, at most "
                             f"{MAX_KERNELS}; 1: one after another, by Sphinx)")
    args = parser.parse_args()
    return build(args.output, args.quick, args.all, args.kernels)


if __name__ == "__main__":
    raise SystemExit(main())
