"""Build the book's partial plotly.js bundles from the npm package (not by hand).

    python tools/plotly_bundle.py            # writes book/_static/vendor/plotly/
    python tools/plotly_bundle.py --check    # exit 1 when the committed bundles are stale

The full ``plotly.min.js`` (4.8 MB) holds every trace type; the book draws only a few. This
script downloads the npm package ``plotly.js`` of the same version as the plotly.js inside the
installed Python ``plotly`` (so figures made by Python plotly meet the library they were made
for), installs its dependencies and the esbuild plugins plotly.js builds itself with, and
bundles ``lib/core`` plus the registered trace modules, minified, twice:

- ``plotly-2d.min.js``: the 2-D traces of :data:`TRACES_2D`;
- ``plotly-3d.min.js``: the same plus :data:`TRACES_3D` (WebGL, larger), for pages with a 3-D
  figure.

``manifest.json`` records the plotly.js version, the trace types of each bundle and the
bundles' SHA-256. ``book/_ext/offline_assets.py`` serves, on each page with a figure, the
smallest bundle that holds every trace type of the page, and fails the build when no bundle
does. Needs ``node`` and ``npm`` (the npm registry); run it when plotly is upgraded or a chapter
draws a new trace type, and commit the result.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "book" / "_static" / "vendor" / "plotly"
TRACES_2D = ("scatter", "bar", "heatmap", "image")
TRACES_3D = ("scatter3d",)
# the build tools plotly.js 4.x declares in its devDependencies (esbuild-config.js)
BUILD_TOOLS = ("esbuild@0.28.1", "esbuild-plugin-environment@0.5.0",
               "esbuild-plugin-glsl@1.4.2", "esbuild-plugin-inline-css@0.0.1")
BUILD_SCRIPT = r"""
const esbuild = require('esbuild');
const { environmentPlugin } = require('esbuild-plugin-environment');
const { glsl } = require('esbuild-plugin-glsl');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');
const [entry, outfile] = process.argv.slice(2);
esbuild.build({
  entryPoints: [entry], outfile, format: 'iife', globalName: 'Plotly', bundle: true,
  minify: true, sourcemap: false, legalComments: 'none',
  plugins: [InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
  alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
  define: { global: 'window', 'define.amd': 'false' }, target: 'es2016', logLevel: 'warning',
}).catch(() => process.exit(1));
"""
BUNDLES = {"plotly-2d.min.js": TRACES_2D, "plotly-3d.min.js": TRACES_2D + TRACES_3D}


def plotlyjs_version() -> str:
    """The plotly.js version bundled with the installed Python plotly."""
    from plotly.offline import get_plotlyjs_version

    return get_plotlyjs_version()


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def _entry(traces: tuple[str, ...]) -> str:
    others = [t for t in traces if t != "scatter"]  # scatter is part of lib/core
    mods = ", ".join(f"require('./lib/{t}')" for t in others)
    return (f"var Plotly = require('./lib/core');\nPlotly.register([{mods}]);\n"
            "module.exports = Plotly;\n")


def build(out: Path) -> dict:
    """Build every bundle into ``out``; return the manifest."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: install Node.js (e.g. apt-get install nodejs npm)")
    version = plotlyjs_version()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _run(["npm", "pack", f"plotly.js@{version}", "--silent"], tmp)
        _run(["tar", "xzf", f"plotly.js-{version}.tgz"], tmp)
        pkg = tmp / "package"
        _run(["npm", "install", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"], pkg)
        _run(["npm", "install", "--no-save", "--ignore-scripts", "--no-audit", "--no-fund",
              *BUILD_TOOLS], pkg)
        (pkg / "gantheory-build.js").write_text(BUILD_SCRIPT)
        manifest = {"plotly.js": version, "build_tools": list(BUILD_TOOLS), "bundles": {}}
        for name, traces in BUNDLES.items():
            entry = pkg / f"entry-{name}.js"
            entry.write_text(_entry(traces))
            _run(["node", "gantheory-build.js", entry.name, str(out / name)], pkg)
            data = (out / name).read_bytes()
            manifest["bundles"][name] = {"traces": list(traces), "bytes": len(data),
                                         "sha256": hashlib.sha256(data).hexdigest()}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def check(out: Path) -> list[str]:
    """Problems with the committed bundles (empty when they fit the installed plotly)."""
    path = out / "manifest.json"
    if not path.exists():
        return [f"{path} is missing: run python tools/plotly_bundle.py"]
    manifest = json.loads(path.read_text())
    problems = []
    if manifest["plotly.js"] != plotlyjs_version():
        problems.append(f"bundles are plotly.js {manifest['plotly.js']}, Python plotly ships "
                        f"{plotlyjs_version()}: rerun python tools/plotly_bundle.py")
    for name, info in manifest["bundles"].items():
        data = (out / name).read_bytes() if (out / name).exists() else b""
        if hashlib.sha256(data).hexdigest() != info["sha256"]:
            problems.append(f"{name} does not match manifest.json")
        if tuple(info["traces"]) != BUNDLES.get(name):
            problems.append(f"{name}: traces {info['traces']} differ from {BUNDLES.get(name)}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.check:
        problems = check(OUT)
        print("\n".join(problems) or "plotly bundles are up to date")
        return 1 if problems else 0
    manifest = build(OUT)
    for name, info in manifest["bundles"].items():
        print(f"{name}: {info['bytes'] / 1e6:.2f} MB, traces {', '.join(info['traces'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
