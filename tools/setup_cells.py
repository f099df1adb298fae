"""Write (or check) the Colab setup cell of every chapter from ``_config.yml`` and the release.

The repository URL lives in one place, ``_config.yml`` (``repository.url``), and the release in
one place, ``version`` in ``pyproject.toml``: its git tag is ``v<version>``. Each notebook opens
with a hidden cell that, in Colab only, pip-installs ``gantheory`` from that tag of that
repository, so a reader's notebook does not change under them when ``main`` moves. Run
``make setup-cells && make sync`` after changing either; ``--check`` (used by the tests) exits
non-zero when a notebook disagrees with them.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MARKER = "# Setup for Colab: install this book's `gantheory` package (does nothing elsewhere)."
CELL_RE = re.compile(
    r"(```\{code-cell\} ipython3\n:tags: \[remove-cell\]\n\n)"
    + re.escape(MARKER) + r"\n.*?(\n```)",
    re.DOTALL,
)


def repository_url() -> str:
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")


def release() -> str:
    """The book's release: ``version`` in ``pyproject.toml``."""
    text = (ROOT / "pyproject.toml").read_text()
    try:
        import tomllib
    except ImportError:  # Python 3.10: the [project] table's first version line
        return re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE).group(1)
    return tomllib.loads(text)["project"]["version"]


def release_tag() -> str:
    return f"v{release()}"


def install_target() -> str:
    return f"gantheory @ git+{repository_url()}@{release_tag()}"


def cell_source() -> str:
    return (
        f"{MARKER}\n"
        "import subprocess\n"
        "import sys\n\n"
        'if "google.colab" in sys.modules:\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q",\n'
        f'                    "{install_target()}"],\n'
        "                   check=True)"
    )


def expected_text(text: str) -> str:
    if not CELL_RE.search(text):
        raise ValueError("no Colab setup cell (a remove-cell code cell starting with the marker)")
    return CELL_RE.sub(lambda m: m.group(1) + cell_source() + m.group(2), text, count=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report disagreements")
    args = parser.parse_args()
    stale = []
    for md in sorted((ROOT / "notebooks").glob("*.md")):
        text = md.read_text()
        new = expected_text(text)
        if new != text:
            stale.append(md)
            if not args.check:
                md.write_text(new)
    if stale and not args.check:  # the .ipynb are generated from the .md
        sys.path.insert(0, str(ROOT / "tools"))
        try:
            import sync_notebooks
        finally:
            sys.path.pop(0)
        sync_notebooks.main([str(md) for md in stale])
    for md in stale:
        verb = "differs from" if args.check else "updated to"
        print(f"{md.relative_to(ROOT)}: setup cell {verb} {install_target()!r}")
    return 1 if (stale and args.check) else 0


if __name__ == "__main__":
    raise SystemExit(main())
