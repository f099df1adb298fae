"""Execute one chapter outside the book build and report what a reader and the ledger would see.

    python tools/check_chapter.py notebooks/02_gram_mixtures.md            # quick sizes
    python tools/check_chapter.py notebooks/02_gram_mixtures.md --cpu      # the book's sizes

Prints the elapsed time, every claim line, the ``{glue}`` keys the prose uses but the run did
not glue (the ``-W`` book build fails on those), outputs on stderr, and bare result asserts
left in the source. Exit code 1 when any of these is wrong or the notebook raised.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GLUE_REF = re.compile(r"\{glue(?::[a-z]+)?\}`([^`:]+)(?::[^`]*)?`")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapter", type=Path)
    parser.add_argument("--cpu", action="store_true", help="full CPU sizes (default: quick)")
    parser.add_argument("--out", type=Path, default=None, help="executed .ipynb to write")
    args = parser.parse_args()
    if args.cpu:
        os.environ.pop("GANTHEORY_QUICK", None)
    else:
        os.environ["GANTHEORY_QUICK"] = "1"
    import jupytext
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    sys.path.insert(0, str(ROOT / "lib"))
    from gantheory import claims

    md = args.chapter.resolve()
    nb = jupytext.read(md)
    client = NotebookClient(nb, timeout=1800, kernel_name="python3",
                            resources={"metadata": {"path": str(md.parent)}})
    start = time.perf_counter()
    problems = []
    try:
        client.execute()
    except CellExecutionError as exc:
        problems.append(f"the notebook raised:\n{str(exc)[-3000:]}")
    elapsed = time.perf_counter() - start
    out = args.out or Path("/tmp") / f"{md.stem}.{'cpu' if args.cpu else 'quick'}.ipynb"
    nbformat.write(nb, out)
    raw = nbformat.writes(nb)
    import json

    data = json.loads(raw)
    records = claims.records_in_notebook(data)
    glued = set()
    for cell in data["cells"]:
        for o in cell.get("outputs", []):
            name = o.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                glued.add(name)
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                problems.append(f"stderr output: {''.join(o.get('text', ''))[:300]!r}")
    text = md.read_text()
    missing = sorted(set(GLUE_REF.findall(text)) - glued)
    if missing:
        problems.append(f"glue keys used in the prose but not glued: {missing}")
    bare = [line.strip() for line in text.splitlines() if re.match(r"^\s*assert ", line)]
    if bare:
        problems.append(f"{len(bare)} bare assert lines: {bare[:5]}")
    print(f"{md.name}: executed in {elapsed:.0f} s ({'cpu' if args.cpu else 'quick'} sizes) "
          f"-> {out}")
    for rec in records:
        print("  " + rec.line())
    n_ok = sum(r.holds for r in records)
    print(f"{len(records)} claims: {n_ok} hold, "
          f"{sum(r.status == 'not checked' for r in records)} not checked, "
          f"{sum(r.status == 'failed' for r in records)} failed; {len(glued)} glued values")
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
