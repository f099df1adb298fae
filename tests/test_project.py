"""Project wiring: lint, the README's two commands, CI, Binder environment."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_lint_is_clean():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make book" in readme
    commands = [line.strip() for line in ci.splitlines()
                if line.strip() and not line.startswith("#") and not line.startswith("set ")
                and not line.startswith("cd ")]
    assert commands == ["make test"], commands


def test_binder_environment_covers_the_package():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    conda = {re.split(r"[=<>]", d)[0] for d in deps if isinstance(d, str)}
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert "pytorch-cpu" in conda, "Binder must get the CPU build of torch"
    assert not any("cuda" in d for d in conda)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[=<>\[ ]", d)[0].lower() for d in project["dependencies"]}
    provided = conda | {re.split(r"[=<>\[ ]", p)[0].lower() for p in pip} | {"torch"}
    assert names <= provided, names - provided
    assert "jupytext" in provided  # Binder opens the .md notebooks too
    postbuild = (ROOT / "postBuild").read_text()
    assert "pip install" in postbuild and "--no-deps" in postbuild


def test_book_pins_jupyter_book_1():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert any(d.startswith("jupyter-book==1.") for d in extras["book"])
