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
