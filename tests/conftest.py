"""Shared test machinery: controls of the claims ledger.

A *control* feeds a check of the book an input that breaks its hypothesis or a wrong formula,
and asserts that the same check rejects it. Mark the test with
``@pytest.mark.control("chNN-claim-id")`` (the id of the claim in the chapter) and pass the
control's record to the ``reject`` fixture::

    @pytest.mark.control("ch02-mp-ks")
    def test_mp_ks_rejects_swapped_ratio(reject):
        led = claims.Ledger("ch02", mode="quick")
        rec = led.evaluate("ch02-mp-ks", statement="control", **rmt.ks_check(...wrong...))
        reject(rec, "Marchenko-Pastur with p/n swapped")

At the end of the run, a table prints how far beyond its tolerance each control landed.
``tests/test_claims.py`` checks that every theory-versus-simulation claim of the built book
(``_build/claims.json``) has at least one control.
"""

from __future__ import annotations

import math
import os

import pytest

# The book build's settings for kernels started by the tests (nbval): no progress bars.
os.environ.setdefault("GANTHEORY_PROGRESS", "0")

CONTROLS: list[dict] = []


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "control(claim_id, ...): a control that the check of these claims must reject")


@pytest.fixture
def reject():
    """``reject(record, description)``: assert that the check rejected a control input (the
    record's status is ``"failed"``) and note by how much it missed its tolerance."""

    def _reject(record, description: str):
        assert record.status == "failed", (
            f"control '{description}' was NOT rejected by the check of {record.id}: "
            f"{record.line()}")
        # the scale of the miss: the tolerance, or (a threshold with no tolerance, such as a
        # critical value) the threshold itself
        scale = (record.tolerance or 0.0) or abs(record.reference or 0.0)
        excess = -record.margin
        CONTROLS.append({
            "id": record.id, "control": description, "excess": excess, "scale": scale,
            "ratio": (excess / scale) if scale > 0 and math.isfinite(excess) else math.inf,
        })
        return record

    return _reject


def pytest_terminal_summary(terminalreporter):
    if not CONTROLS:
        return
    tr = terminalreporter
    tr.section("controls rejected by the book's checks")
    tr.write_line("how far each control lands beyond its check's tolerance; 'x scale' divides by "
                  "the tolerance, or by the threshold when the tolerance is 0")
    tr.write_line(f"{'claim':40} {'beyond':>10} {'x scale':>9}  control")
    for c in sorted(CONTROLS, key=lambda c: c["id"]):
        ratio = "inf" if not math.isfinite(c["ratio"]) else f"{c['ratio']:.3g}"
        tr.write_line(f"{c['id']:40} {c['excess']:10.4g} {ratio:>9}  {c['control']}")
