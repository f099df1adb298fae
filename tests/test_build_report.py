"""The execution-time report of ``tools/build_book.py`` (chapter times against the budget)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_book  # noqa: E402

CACHE = ROOT / "_build" / ".jupyter_cache"


@pytest.mark.skipif(os.environ.get("GANTHEORY_BOOK_BUILT") != "1" or not CACHE.exists(),
                    reason="needs the build make test runs first (GANTHEORY_BOOK_BUILT=1)")
def test_every_chapter_of_the_built_book_has_an_execution_time():
    rows = build_book.execution_times(CACHE)
    assert [doc for doc, _, _ in rows] == build_book.chapter_docs()
    assert all(seconds is not None and seconds > 0 for _, seconds, _ in rows), rows


def test_report_flags_chapters_over_budget(monkeypatch, capsys):
    monkeypatch.setattr(build_book, "execution_times", lambda cache: [
        ("notebooks/01_a", 30.0, "2026-12-02 06:00"), ("notebooks/02_b", 200.0, "2026-12-02 06:05"),
        ("notebooks/03_c", None, "")])
    build_book.print_execution_times(Path("unused"), budget=120)
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "ok" in lines["notebooks/01_a"] and "OVER BUDGET" in lines["notebooks/02_b"]
    assert "not in the cache" in lines["notebooks/03_c"]
    assert lines["all"].split()[-2] == "230"


def test_cost_hints_name_the_chapters_of_the_toc():
    """The longest-first order must name real chapters (a renamed chapter would run last)."""
    assert set(build_book.COST_HINT_S) == set(build_book.chapter_docs())


@pytest.mark.parametrize("n, cores, kernels, expected", [
    (9, 2, None, (2, 1)),      # the project's machine: two kernels of one thread
    (9, 16, None, (4, 4)),     # at most MAX_KERNELS kernels, the cores shared among them
    (1, 2, None, (1, 2)),      # one chapter: one kernel with every core
    (9, 1, None, (1, 1)),
    (9, 2, 1, (1, 2)),         # --kernels 1: one after another
    (3, 16, 8, (3, 5)),        # never more kernels than chapters
    (9, 3, 2, (2, 1)),         # kernels * threads <= cores
    (0, 2, None, (1, 2)),
])
def test_kernel_plan_never_holds_more_threads_than_cores(n, cores, kernels, expected):
    got = build_book.kernel_plan(n, cores, kernels)
    assert got == expected
    k, t = got
    assert k * t <= max(cores, 1) and k >= 1 and t >= 1


@pytest.mark.parametrize("bad", [dict(n_chapters=-1, cores=2), dict(n_chapters=3, cores=0),
                                 dict(n_chapters=3, cores=2, kernels=0)])
def test_kernel_plan_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="kernels|cores|n_chapters"):
        build_book.kernel_plan(**bad)


def test_cpu_cores_takes_the_share_the_build_gives(monkeypatch):
    from gantheory import config

    monkeypatch.delenv(config.CORES_ENV, raising=False)
    found = config.machine_cores()
    assert config.cpu_cores() == found
    monkeypatch.setenv(config.CORES_ENV, "1")
    assert config.cpu_cores() == 1
    monkeypatch.setenv(config.CORES_ENV, str(found + 100))
    assert config.cpu_cores() == found  # a share is never more than the machine has
    for bad in ("0", "-2", "1.5", "two"):
        monkeypatch.setenv(config.CORES_ENV, bad)
        with pytest.raises(ValueError, match="GANTHEORY_CORES"):
            config.cpu_cores()


def test_side_by_side_kernels_get_the_environment_sphinx_gives_its_kernels():
    """Kernels started by execute_missing must emit the same pages as Sphinx's: static plotly
    figures and no progress bars (without them a build lost every figure of the site)."""
    env = build_book.kernel_env()
    assert env.get("GANTHEORY_PLOTLY") == "static" and env.get("GANTHEORY_PROGRESS") == "0"
    assert set(build_book.THREAD_ENV).isdisjoint(env)


def test_execute_missing_passes_the_kernel_environment(monkeypatch):
    """The environment seen at kernel start (os.environ inside the pool) holds kernel_env()
    and the thread share, and is restored afterwards."""
    import jupyter_cache.executors.utils as jcu

    seen = {}

    class Result:
        err, time, exc_string = None, 0.1, ""

    def fake_execution(nb, **kwargs):
        seen.update({k: os.environ.get(k) for k in (*build_book.kernel_env(),
                                                    *build_book.THREAD_ENV)})
        return Result()

    monkeypatch.setattr(jcu, "single_nb_execution", fake_execution)
    monkeypatch.setattr(build_book, "kernel_plan", lambda n, cores, kernels: (2, 1))

    class FakeCache:
        def cache_notebook_bundle(self, *a, **k):
            pass

    monkeypatch.setattr("jupyter_cache.get_cache", lambda path: FakeCache())
    monkeypatch.delenv("GANTHEORY_PLOTLY", raising=False)
    failed = build_book.execute_missing(Path("unused"), build_book.chapter_docs()[:2])
    assert failed == []
    assert seen["GANTHEORY_PLOTLY"] == "static" and seen["GANTHEORY_CORES"] == "1"
    assert "GANTHEORY_PLOTLY" not in os.environ
