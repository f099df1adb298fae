"""Build the book: execute every notebook (cached) and write the static site.

    python tools/build_book.py                  # full CPU sizes -> _build/html
    python tools/build_book.py --quick --output _build/test-site   # small sizes (tests)

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


def build(output: Path, quick: bool, rebuild_all: bool = False) -> int:
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
    args = parser.parse_args()
    return build(args.output, args.quick, args.all)


if __name__ == "__main__":
    raise SystemExit(main())
