"""The claims ledger: records, relations, errors, collection from executed notebooks, the page,
and (after a book build) the ledger of the whole book with a control for every simulation claim.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from gantheory import claims

ROOT = Path(__file__).resolve().parents[1]
LEDGER_JSON = ROOT / "_build" / "claims.json"
BASE = dict(statement="a claim", basis="a standard error")


def ledger(mode="cpu"):
    return claims.Ledger("ch99", weights="seeded random", mode=mode)


def test_claim_records_and_shows_a_holding_claim(capsys):
    led = ledger()
    rec = led.claim("ch99-ok", measured=0.01, reference=0.0, relation="<=", tolerance=0.03,
                    result="thm-x", **BASE)
    assert rec.holds and rec.margin == pytest.approx(0.02)
    assert led.records["ch99-ok"] is rec
    assert rec.mode == "cpu" and rec.weights == "seeded random" and rec.kind == "simulation"
    assert "ch99-ok [thm-x] holds" in rec.line()


def test_failing_claim_raises_with_everything_in_the_message():
    led = ledger()
    with pytest.raises(claims.ClaimFailed) as info:
        led.claim("ch99-bad", measured=0.5, reference=1, relation=">=", tolerance=0.1,
                  result="thm-y", weights="trained in the book", **BASE)
    msg = str(info.value)
    for needle in ("ch99-bad", "thm-y", "a claim", "0.5", ">=", "0.1", "a standard error",
                   "-0.4", "cpu", "trained in the book"):
        assert needle in msg, needle
    assert info.value.record.status == "failed"
    assert led.records["ch99-bad"].status == "failed"  # recorded, then raised
    assert "1 claims FAILED" in led.summary_text() and "failed" in led.summary_html()


@pytest.mark.parametrize("relation, measured, reference, tol, holds, margin", [
    ("<=", 1.0, 1.0, 0.0, True, 0.0),
    ("<", 1.0, 1.0, 0.0, False, 0.0),
    (">=", 0.9, 1.0, 0.1, True, 0.0),
    (">", 0.9, 1.0, 0.1, False, 0.0),
    ("==", 1.2, 1.0, 0.1, False, -0.1),
    ("==", 0.95, 1.0, 0.1, True, 0.05),
    ("<=", 2.0, 1.0, 0.5, False, -0.5),
])
def test_relations(relation, measured, reference, tol, holds, margin):
    rec = ledger().evaluate("ch99-r", measured=measured, reference=reference, relation=relation,
                            tolerance=tol, **BASE)
    assert rec.holds is holds
    assert rec.margin == pytest.approx(margin, abs=1e-12)


finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(finite, finite, st.floats(0, 1e6), st.sampled_from(["<=", ">=", "=="]))
def test_a_non_strict_claim_holds_exactly_when_its_margin_is_non_negative(x, r, t, relation):
    rec = ledger().evaluate("ch99-p", measured=x, reference=r, relation=relation, tolerance=t,
                            **BASE)
    assert rec.holds == (rec.margin >= 0)
    # moving the measured value past the bound by more than the margin makes it fail
    if relation != "==":
        worse = x + (abs(rec.margin) + 1.0) * (1 if relation == "<=" else -1)
        rec2 = ledger().evaluate("ch99-p", measured=worse, reference=r, relation=relation,
                                 tolerance=t, **BASE)
        assert not rec2.holds


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_measurements_never_hold(bad):
    rec = ledger().evaluate("ch99-n", measured=bad, reference=0, relation="<=", tolerance=1e9,
                            **BASE)
    assert not rec.holds and rec.margin == -math.inf


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(measured=True), TypeError, "measured"),
    (dict(measured="0.1"), TypeError, "measured"),
    (dict(measured=[0.1, 0.2]), TypeError, "worst case"),
    (dict(reference=math.nan), ValueError, "reference"),
    (dict(tolerance=-1), ValueError, "tolerance"),
    (dict(tolerance=math.inf), ValueError, "tolerance"),
    (dict(relation="~"), ValueError, "relation"),
    (dict(kind="vibes"), ValueError, "kind"),
    (dict(basis=""), ValueError, "basis"),
    (dict(statement="  "), ValueError, "statement"),
    (dict(result=""), ValueError, "result"),
    (dict(weights=""), ValueError, "weights"),
])
def test_bad_input_names_the_parameter(kwargs, error, match):
    args = dict(measured=0.0, reference=0.0, relation="<=", tolerance=0.0, **BASE) | kwargs
    with pytest.raises(error, match=match):
        ledger().evaluate("ch99-e", **args)


@pytest.mark.parametrize("bad_id", ["ch98-other-chapter", "ch99", "CH99-X", "ch99-a_b", "", 5])
def test_ids_carry_their_chapter(bad_id):
    with pytest.raises(ValueError, match="id"):
        ledger().evaluate(bad_id, measured=0, reference=0, relation="<=", **BASE)


def test_ledger_arguments_are_validated():
    with pytest.raises(ValueError, match="chapter"):
        claims.Ledger("Chapter 2")
    with pytest.raises(ValueError, match="mode"):
        claims.Ledger("ch02", mode="tpu")
    with pytest.raises(ValueError, match="weights"):
        claims.Ledger("ch02", weights="")


def test_mode_defaults_to_the_run_mode(monkeypatch):
    monkeypatch.setenv("GANTHEORY_QUICK", "1")
    assert claims.Ledger("ch02").mode == "quick"


def test_not_checked_needs_a_reason_and_is_counted():
    led = ledger("quick")
    with pytest.raises(ValueError, match="reason"):
        led.not_checked("ch99-nc", statement="s", reason="")
    rec = led.not_checked("ch99-nc", statement="s", reason="quick sizes are too small")
    assert rec.status == "not checked" and rec.measured is None
    assert "not checked in quick mode, because quick sizes" in rec.line()
    led.claim("ch99-ok", measured=0, reference=0, relation="==", kind="exact", **BASE)
    assert led.counts() == {"holds": 1, "failed": 0, "not checked": 1}
    text, html = led.summary_text(), led.summary_html()
    assert "1 claims checked in quick mode" in text and "quick sizes are too small" in text
    assert "claims-summary" in html and "checked-claims.html" in html and "1 exact" in html


def test_module_level_ledger(monkeypatch):
    monkeypatch.setattr(claims, "_LEDGER", None)
    with pytest.raises(RuntimeError, match="start"):
        claims.claim("ch99-x", measured=0, reference=0, relation="<=", **BASE)
    claims.start("ch99", weights="none", mode="cpu")
    claims.claim("ch99-x", measured=0, reference=0, relation="<=", **BASE)
    claims.not_checked("ch99-y", statement="s", reason="r")
    assert not claims.evaluate("ch99-z", measured=2, reference=0, relation="<=", **BASE).holds
    assert set(claims.ledger().records) == {"ch99-x", "ch99-y"}
    claims.summary()
    claims.glue("ch99-value", 0.5)
    with pytest.raises(ValueError, match="name"):
        claims.glue("", 1)


def _notebook(*records):
    outputs = [{"output_type": "display_data", "metadata": {},
                "data": {claims.MIME: r.to_dict(), "text/plain": r.line()}} for r in records]
    return {"cells": [{"cell_type": "code", "outputs": outputs},
                      {"cell_type": "markdown", "source": "text"}]}


def test_collect_reads_records_back_from_executed_outputs():
    led = ledger()
    a = led.claim("ch99-a", measured=1, reference=1, relation="==", **BASE)
    b = led.not_checked("ch99-b", statement="s", reason="r")
    nb = _notebook(a, b)
    nb["cells"][0]["outputs"][1]["data"][claims.MIME] = json.dumps(b.to_dict())  # str payload
    assert claims.collect([("notebooks/99", nb)]) == [a, b]
    with pytest.raises(ValueError, match="appears in"):
        claims.collect([("notebooks/99", nb), ("notebooks/98", _notebook(a))])
    other = claims.Ledger("ch98", mode="cpu").claim("ch98-a", measured=0, reference=0,
                                                    relation="==", **BASE)
    with pytest.raises(ValueError, match="several chapters"):
        claims.collect([("notebooks/99", _notebook(a, other))])


def test_records_from_json_are_validated():
    good = ledger().evaluate("ch99-a", measured=1, reference=1, relation="==", **BASE).to_dict()
    assert claims.Record.from_dict(good).holds
    with pytest.raises(ValueError, match="lacks"):
        claims.Record.from_dict({k: v for k, v in good.items() if k != "margin"})
    with pytest.raises(ValueError, match="unknown"):
        claims.Record.from_dict(good | {"extra": 1})
    with pytest.raises(ValueError, match="status"):
        claims.Record.from_dict(good | {"status": "maybe"})


def test_failures_and_the_page():
    led = ledger()
    ok = led.claim("ch99-a", measured=1, reference=1, relation="==", result="thm-a", **BASE)
    nc = led.not_checked("ch99-b", statement="s | with a bar", reason="r")
    bad = led.evaluate("ch99-c", measured=3, reference=1, relation="<=", **BASE)
    assert claims.failures([ok, nc]) == []
    assert claims.failures([ok], mode="gpu") == ["ch99-a was measured in cpu mode, not gpu"]
    assert "ch99-c failed" in claims.failures([bad])[0]
    page = claims.render_page([ok, nc, bad], {"ch99": ("notebooks/99_x", "Ninety-nine")}, "cpu")
    assert "(checked-claims)=" in page and "## Ninety-nine" in page
    assert "{prf:ref}`thm-a`" in page and "s \\| with a bar" in page and "**-2**" in page
    assert "- `ch99-a`: a standard error" in page and ":class: dropdown" in page
    assert "because r" in page and "**1 failed**" in page
    with pytest.raises(ValueError, match="table of contents"):
        claims.render_page([ok], {}, "cpu")
    assert "No claims recorded" in claims.render_page([], {"ch99": ("d", "T")}, "cpu")


# ----------------------------------------------------------------------------- the built book


def _built() -> list[claims.Record]:
    if not LEDGER_JSON.exists():
        if os.environ.get("GANTHEORY_BOOK_BUILT"):
            pytest.fail(f"{LEDGER_JSON} is missing although the book was built")
        pytest.skip("no _build/claims.json: run `make book` (make test builds it first)")
    return [claims.Record.from_dict(d) for d in json.loads(LEDGER_JSON.read_text())]


def test_every_chapter_records_claims_and_all_hold():
    records = _built()
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    chapters = [c["file"] for p in toc["parts"] for c in p["chapters"]
                if c["file"].startswith("notebooks/")]
    tags = {r.chapter for r in records}
    assert len(tags) == len(chapters), (sorted(tags), chapters)
    assert len({r.id for r in records}) == len(records)
    modes = {r.mode for r in records}
    assert len(modes) == 1 and modes <= {"cpu", "gpu"}, modes  # the book readers read
    assert claims.failures(records) == []
    checked = sum(r.holds for r in records)
    assert checked >= 5 * len(chapters), checked
    page = (ROOT / "book" / "checked-claims.md").read_text()
    assert all(f"| {r.id} |" in page for r in records)


def test_every_simulation_claim_has_a_control(request):
    records = _built()
    items = request.session.items
    if not any(i.path.name.startswith("test_controls_") for i in items):
        if os.environ.get("GANTHEORY_BOOK_BUILT"):
            pytest.fail("the control tests (tests/test_controls_*.py) were not collected")
        pytest.skip("run the whole suite: the controls live in tests/test_controls_*.py")
    controlled = set()
    for item in items:
        for mark in item.iter_markers("control"):
            controlled.update(mark.args)
    needed = {r.id for r in records if r.kind == "simulation"}
    assert needed, "no theory-versus-simulation claim in the book"
    missing = sorted(needed - controlled)
    assert not missing, f"simulation claims without a control in the tests: {missing}"
    unknown = sorted(controlled - {r.id for r in records})
    assert not unknown, f"controls for claims the book does not record: {unknown}"
