"""Build the book: execute every notebook (cached) and write the static site.

    python tools/build_book.py                  # full CPU sizes -> _build/html
    python tools/build_book.py --quick --output _build/test-site   # small sizes (tests)
    python tools/build_book.py --jobs 1         # no parallel pre-execution

Chapters are independent, so before the (serial) Sphinx build the notebooks missing from the
execution cache are executed in parallel worker processes (``--jobs``, default
``min(4, cpu_count)``), as MyST-NB would execute them: read with jupytext (the same cache key as
MyST-NB's reader), run in ``notebooks/`` with the kernel environment of the build, and stored in
the same jupyter-cache. The Sphinx build then finds every chapter cached. A chapter that fails
here is left to the build, which re-runs it and reports the error (``-W``).

jupyter-cache keys its cache on the notebooks' code cells only, so a change in ``lib/``, in the
saved GPU results (``artifacts/``) or in the pinned dependencies would otherwise reuse stale
outputs: this script hashes ``lib/``, ``artifacts/`` and ``pyproject.toml`` and clears the
execution cache when the hash changes. Quick and full builds use separate output folders, hence
separate caches. Warnings are errors (``-W``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def code_hash() -> str:
    """Hash of everything outside the notebooks that can change executed outputs."""
    h = hashlib.sha256()
    files = (sorted((ROOT / "lib").rglob("*.py")) + sorted((ROOT / "artifacts").glob("*"))
             + [ROOT / "pyproject.toml"])
    for path in files:
        h.update(path.relative_to(ROOT).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


# Rough CPU seconds per chapter at full size (measured): the longest start first.
_EXPECTED_SECONDS = {"07": 380, "04": 280, "08": 180, "09": 90, "03": 70, "01": 70, "02": 25}


def _execute_one(path: str, env: dict, timeout: int) -> tuple[str, object, str | None, float]:
    """Worker: execute one chapter as MyST-NB would (cwd notebooks/, no errors allowed)."""
    os.environ.update(env)
    import jupytext
    from jupyter_cache.executors.utils import single_nb_execution

    nb = jupytext.read(path)
    result = single_nb_execution(nb, cwd=str(Path(path).parent), allow_errors=False,
                                 timeout=timeout, meta_override=True)
    if result.err is not None:
        return path, None, result.exc_string, result.time
    return path, nb, None, result.time


def preexecute(cache_path: Path, env: dict, jobs: int) -> None:
    """Execute, ``jobs`` at a time, the chapters that the jupyter-cache at ``cache_path`` lacks,
    and add them to it. ``env`` overrides the kernels' environment (quick mode, plotly)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    import jupytext
    import yaml
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(cache_path))
    todo = []
    for md in sorted((ROOT / "notebooks").glob("*.md")):
        try:
            cache.match_cache_notebook(jupytext.read(md))
        except KeyError:
            todo.append(md)
    if jobs < 2 or len(todo) < 2:
        return
    timeout = int(yaml.safe_load((ROOT / "_config.yml").read_text())["execute"]["timeout"])
    todo.sort(key=lambda md: -_EXPECTED_SECONDS.get(md.name[:2], 10))
    print(f"pre-executing {len(todo)} notebooks, {jobs} at a time", flush=True)
    start = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(_execute_one, str(md.resolve()), env, timeout) for md in todo]
        for future in as_completed(futures):
            path, nb, error, seconds = future.result()
            name = Path(path).name
            if error is not None:
                print(f"  {name}: failed after {seconds:.0f} s; the book build will re-run it "
                      "and report the error", flush=True)
                continue
            bundle = CacheBundleIn(nb, path, data={"execution_seconds": seconds})
            cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
            print(f"  pre-executed {name} in {seconds:.0f} s", flush=True)
    print(f"pre-execution took {time.perf_counter() - start:.0f} s", flush=True)


def build(output: Path, quick: bool, rebuild_all: bool = False, jobs: int = 1) -> int:
    output = output if output.is_absolute() else ROOT / output
    build_dir = output / "_build"
    cache = build_dir / ".jupyter_cache"
    stamp = build_dir / ".gantheory-code-hash"
    digest = code_hash()
    if cache.exists() and (not stamp.exists() or stamp.read_text().strip() != digest):
        print(f"lib/, artifacts/ or pyproject.toml changed: clearing the execution cache {cache}")
        shutil.rmtree(cache)
    env = dict(os.environ)
    if quick:
        env["GANTHEORY_QUICK"] = "1"
    else:
        env.pop("GANTHEORY_QUICK", None)
    # the kernels' environment in the build: GANTHEORY_PLOTLY is set by book/_ext/offline_assets.py
    preexecute(cache, {"GANTHEORY_PLOTLY": "static", "GANTHEORY_QUICK": "1" if quick else ""}, jobs)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(ROOT), "--path-output", str(output), "-W", "--keep-going"]
    if rebuild_all:
        cmd.append("--all")  # re-read every page; executed outputs still come from the cache
    print("+", " ".join(cmd), "(GANTHEORY_QUICK=1)" if quick else "(full sizes)", flush=True)
    start = time.perf_counter()
    rc = subprocess.call(cmd, env=env, cwd=ROOT)
    print(f"book build finished with code {rc} in {time.perf_counter() - start:.0f} s")
    if rc == 0:
        build_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest + "\n")
        print(f"site: {build_dir / 'html' / 'index.html'}")
    return rc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (GANTHEORY_QUICK=1)")
    parser.add_argument("--output", type=Path, default=ROOT, help="--path-output of jupyter-book")
    parser.add_argument("--all", action="store_true", help="re-read every page (jb build --all)")
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                        help="notebooks executed in parallel before the build (1: none)")
    args = parser.parse_args()
    return build(args.output, args.quick, args.all, args.jobs)


if __name__ == "__main__":
    raise SystemExit(main())
