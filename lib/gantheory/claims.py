"""The claims ledger: every numerical claim of the book, checked where it is made.

A chapter calls :func:`start` once, then :func:`claim` for each result it checks numerically
and :func:`not_checked` for a claim that the current run mode cannot check (with the reason),
and :func:`summary` at its end. :func:`claim` raises :class:`ClaimFailed` when the claim does not
hold, so a failing claim stops the notebook and the build. A bare ``assert`` on a result is not
used in the chapters; asserts on input sanity are fine.

Each record is shown in the notebook as one short line (``text/plain``) and carried, in full,
in the same output under the MIME type :data:`MIME`; ``tools/build_book.py`` collects those
records from the executed notebooks into ``_build/claims.json`` and the page *Checked claims*.
Because the records live in the executed outputs, a build that takes a chapter from the
execution cache still reports that chapter's claims exactly as they were measured.

Record schema (one JSON object per claim; ``claims.json`` is a list of them, in book order):

============  ==========================================================================
key           meaning
============  ==========================================================================
id            unique in the book, ``<chapter>-<slug>`` (lower case, digits, ``-``)
chapter       the chapter tag given to :func:`start`, e.g. ``"ch02"``
result        the ``prf`` label of the result it supports (``"thm-mp"``), or ``null``
statement     one line saying what is claimed
kind          ``"simulation"`` (theory against simulation: the tests hold a *control* that
              the same check rejects), ``"exact"`` (an identity or bound checked to
              rounding error), or ``"observation"`` (a measured fact about a trained model
              or an experiment, with no theoretical value)
status        ``"holds"``, ``"failed"`` (only in a record carried by :class:`ClaimFailed`)
              or ``"not checked"``
measured      the measured value (float) or ``null`` when not checked
reference     the reference value or bound (float) or ``null`` when not checked
relation      ``"<="``, ``">="``, ``"<"``, ``">"`` or ``"=="`` (measured against reference)
tolerance     the allowed deviation (float >= 0), see ``basis``
basis         the argument the tolerance comes from (a standard error, a null
              distribution, a known error term, rounding)
margin        how far inside the tolerance the measured value lies (>= 0 when the claim
              holds; negative: by how much it misses); see :func:`evaluate`
mode          the run mode: ``"quick"``, ``"cpu"`` or ``"gpu"``
weights       which weights produced the number (``"seeded random"``, ``"trained in the
              book"``, ``"pretrained"``, ...) or ``"none"``
reason        why the claim is not checked in this mode (``null`` otherwise)
============  ==========================================================================

Relations, with measured value ``x``, reference ``r`` and tolerance ``t``:
``x <= r + t`` (margin ``r + t - x``), ``x >= r - t`` (margin ``x - r + t``), ``<`` and ``>``
the strict versions (they hold only with a positive margin), and ``|x - r| <= t``
(margin ``t - |x - r|``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Iterable

import numpy as np

MIME = "application/vnd.gantheory.claim+json"
RELATIONS = ("<=", ">=", "<", ">", "==")
KINDS = ("simulation", "exact", "observation")
MODES = ("quick", "cpu", "gpu")
STATUSES = ("holds", "failed", "not checked")
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)+$")
_CHAPTER = re.compile(r"^[a-z0-9]+$")


class ClaimFailed(AssertionError):
    """A claim that does not hold; ``.record`` is its full :class:`Record`."""

    def __init__(self, record: Record):
        self.record = record
        super().__init__(
            f"claim {record.id} does not hold ({record.chapter}, result {record.result}): "
            f"{record.statement} -- measured {_fmt(record.measured)} {record.relation} "
            f"reference {_fmt(record.reference)} with tolerance {_fmt(record.tolerance)} "
            f"({record.basis}); margin {_fmt(record.margin)}; mode {record.mode}; "
            f"weights {record.weights}")


@dataclasses.dataclass(frozen=True)
class Record:
    """One claim of the ledger; the fields are the keys of the schema in the module docstring."""

    id: str
    chapter: str
    result: str | None
    statement: str
    kind: str
    status: str
    measured: float | None
    reference: float | None
    relation: str | None
    tolerance: float | None
    basis: str | None
    margin: float | None
    mode: str
    weights: str
    reason: str | None = None

    @property
    def holds(self) -> bool:
        return self.status == "holds"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Record:
        """A record from its JSON form; ``ValueError`` naming the key when one is missing or
        not understood."""
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in data and n != "reason"]
        if missing:
            raise ValueError(f"claim record lacks {missing}: {data}")
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"claim record has unknown keys {unknown}")
        rec = cls(**{n: data.get(n) for n in names})
        if rec.status not in STATUSES:
            raise ValueError(f"claim {rec.id}: status must be one of {STATUSES}, "
                             f"got {rec.status!r}")
        return rec

    def line(self) -> str:
        """The one-line form shown in the notebook."""
        where = f" [{self.result}]" if self.result else ""
        if self.status == "not checked":
            return f"claim {self.id}{where}: not checked in {self.mode} mode, because {self.reason}"
        mark = "holds" if self.holds else "FAILS"
        tol = f" ± {_fmt(self.tolerance)}" if self.tolerance else ""
        return (f"claim {self.id}{where} {mark}: {_fmt(self.measured)} {self.relation} "
                f"{_fmt(self.reference)}{tol} (margin {_fmt(self.margin)}; {self.basis})")


def _fmt(x) -> str:
    if x is None:
        return "None"
    if isinstance(x, float) and (x == 0 or 1e-3 <= abs(x) < 1e5):
        return f"{x:.4g}"
    return f"{x:.3g}" if isinstance(x, float) else str(x)


def _number(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or isinstance(value, str):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    arr = np.asarray(value)
    if arr.ndim != 0 or not (np.issubdtype(arr.dtype, np.floating)
                             or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must be a real scalar (reduce an array first, e.g. its "
                        f"worst case), got {type(value).__name__} of shape {arr.shape}")
    return float(arr)


def _text(value, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value.strip()


def margin_of(measured: float, reference: float, relation: str, tolerance: float) -> float:
    """How far inside the tolerance ``measured`` lies (negative: how far outside)."""
    if relation == "==":
        return tolerance - abs(measured - reference)
    if relation in ("<=", "<"):
        return reference + tolerance - measured
    if relation in (">=", ">"):
        return measured - (reference - tolerance)
    raise ValueError(f"relation must be one of {RELATIONS}, got {relation!r}")


class Ledger:
    """The claims of one chapter (one kernel). :func:`start` makes the module's ledger."""

    def __init__(self, chapter: str, weights: str = "none", mode: str | None = None):
        self.chapter = _text(chapter, "chapter")
        if not _CHAPTER.match(self.chapter):
            raise ValueError(f"chapter must be lower-case letters and digits, got {chapter!r}")
        self.weights = _text(weights, "weights")
        if mode is None:
            from gantheory.config import run_mode

            mode = run_mode()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.records: dict[str, Record] = {}

    # ------------------------------------------------------------------ building records
    def _common(self, id, result, statement, kind, weights):
        id = _text(id, "id")
        if not _ID.match(id) or not id.startswith(self.chapter + "-"):
            raise ValueError(f"id must look like '{self.chapter}-some-name' (lower case, "
                             f"digits and '-'), got {id!r}")
        if result is not None:
            result = _text(result, "result")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        weights = self.weights if weights is None else _text(weights, "weights")
        return id, result, _text(statement, "statement"), kind, weights

    def evaluate(self, id: str, *, statement: str, measured, reference, relation: str,
                 tolerance=0.0, basis: str, result: str | None = None,
                 kind: str = "simulation", weights: str | None = None) -> Record:
        """The record of a claim, without registering it or raising.

        A measured value that is NaN or infinite makes the claim fail (it is never taken as
        holding); ``tolerance`` must be finite and >= 0.
        """
        id, result, statement, kind, weights = self._common(id, result, statement, kind,
                                                            weights)
        if relation not in RELATIONS:
            raise ValueError(f"relation must be one of {RELATIONS}, got {relation!r}")
        measured = _number(measured, "measured")
        reference = _number(reference, "reference")
        if not math.isfinite(reference):
            raise ValueError(f"reference must be finite, got {reference}")
        tolerance = _number(tolerance, "tolerance")
        if not math.isfinite(tolerance) or tolerance < 0:
            raise ValueError(f"tolerance must be finite and >= 0, got {tolerance}")
        basis = _text(basis, "basis")
        if math.isfinite(measured):
            margin = margin_of(measured, reference, relation, tolerance)
            holds = margin > 0 if relation in ("<", ">") else margin >= 0
        else:
            margin, holds = -math.inf, False
        return Record(id=id, chapter=self.chapter, result=result, statement=statement,
                      kind=kind, status="holds" if holds else "failed", measured=measured,
                      reference=reference, relation=relation, tolerance=tolerance,
                      basis=basis, margin=margin, mode=self.mode, weights=weights)

    def claim(self, id: str, **kwargs) -> Record:
        """Check a claim, record it and show it; :class:`ClaimFailed` when it does not hold.

        Keyword arguments as in :meth:`evaluate`. Recording the same id again replaces the
        earlier record (re-running a cell); two different claims with one id are caught when
        the build collects the ledger.
        """
        record = self.evaluate(id, **kwargs)
        self._register(record)
        if not record.holds:
            raise ClaimFailed(record)
        return record

    def not_checked(self, id: str, *, statement: str, reason: str, result: str | None = None,
                    kind: str = "simulation", weights: str | None = None) -> Record:
        """Record a claim that this run mode does not check, and why."""
        id, result, statement, kind, weights = self._common(id, result, statement, kind,
                                                            weights)
        record = Record(id=id, chapter=self.chapter, result=result, statement=statement,
                        kind=kind, status="not checked", measured=None, reference=None,
                        relation=None, tolerance=None, basis=None, margin=None,
                        mode=self.mode, weights=weights, reason=_text(reason, "reason"))
        self._register(record)
        return record

    def _register(self, record: Record) -> None:
        self.records[record.id] = record
        _display(record)

    # ------------------------------------------------------------------ summary
    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATUSES}
        for rec in self.records.values():
            out[rec.status] += 1
        return out

    def summary_text(self) -> str:
        counts = self.counts()
        lines = [f"{counts['holds']} claims checked in {self.mode} mode, all holding; "
                 f"{counts['not checked']} not checked in this mode."]
        if counts["failed"]:
            lines[0] = (f"{counts['failed']} claims FAILED, {counts['holds']} hold, "
                        f"{counts['not checked']} not checked in {self.mode} mode.")
        for rec in self.records.values():
            if rec.status == "not checked":
                lines.append(f"- {rec.id}: {rec.reason}")
        return "\n".join(lines)

    def summary_html(self) -> str:
        import html

        counts = self.counts()
        kinds = {k: sum(r.kind == k and r.holds for r in self.records.values()) for k in KINDS}
        detail = ", ".join(f"{v} {k}" for k, v in kinds.items() if v)
        head = (f"<p><strong>{counts['holds']}</strong> claims checked in <em>{self.mode}</em> "
                f"mode, all holding ({detail}); <strong>{counts['not checked']}</strong> not "
                f"checked in this mode.</p>")
        if counts["failed"]:
            head = (f"<p><strong>{counts['failed']} claims failed</strong>; "
                    f"{counts['holds']} hold.</p>")
        items = "".join(f"<li><code>{html.escape(r.id)}</code>: {html.escape(r.reason or '')}"
                        "</li>" for r in self.records.values() if r.status == "not checked")
        why = f"<p>Not checked in this mode, because:</p><ul>{items}</ul>" if items else ""
        link = ('<p>Every claim, with its measured value, bound, tolerance and the argument '
                'for the tolerance: <a href="../book/checked-claims.html">Checked claims</a>.'
                '</p>')
        return ('<div class="admonition note claims-summary"><p class="admonition-title">'
                f"Claims of this chapter</p>{head}{why}{link}</div>")


def _display(record: Record) -> None:
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is a dependency of the book
        print(record.line())
        return
    display({MIME: record.to_dict(), "text/plain": record.line()}, raw=True)


# ---------------------------------------------------------------------- module-level ledger
_LEDGER: Ledger | None = None


def start(chapter: str, weights: str = "none", mode: str | None = None) -> Ledger:
    """Open the ledger of a chapter (``"ch02"``) in this kernel; ``weights`` is the default for
    its claims. Starting again replaces it (re-running the notebook)."""
    global _LEDGER
    _LEDGER = Ledger(chapter, weights=weights, mode=mode)
    return _LEDGER


def ledger() -> Ledger:
    """The ledger opened by :func:`start`; ``RuntimeError`` before it."""
    if _LEDGER is None:
        raise RuntimeError("call gantheory.claims.start('chNN') before recording claims")
    return _LEDGER


def claim(id: str, **kwargs) -> Record:
    """Check and record one claim in the chapter's ledger (see :meth:`Ledger.claim`)."""
    return ledger().claim(id, **kwargs)


def not_checked(id: str, **kwargs) -> Record:
    """Record a claim not checked in this run mode (see :meth:`Ledger.not_checked`)."""
    return ledger().not_checked(id, **kwargs)


def evaluate(id: str, **kwargs) -> Record:
    """The record a claim would get, without recording or raising (for controls)."""
    return ledger().evaluate(id, **kwargs)


def summary() -> None:
    """Show the chapter's box: how many claims were checked, how many were not, and why."""
    led = ledger()
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover
        print(led.summary_text())
        return
    display({"text/html": led.summary_html(), "text/plain": led.summary_text()}, raw=True)


def glue(name: str, value, display: bool = False) -> None:
    """Make ``value`` available to the prose as ``{glue:text}`name:fmt``` (MyST-NB's glue).

    Outside a MyST-NB build (Colab, a plain Jupyter) glue is a no-op when myst_nb is absent.
    Numbers are glued as Python floats or ints so that format specs such as ``:.3f`` apply.
    """
    _text(name, "name")
    if isinstance(value, np.generic):
        value = value.item()
    try:
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - the book's environment has myst_nb
        return
    _glue(name, value, display=display)


# ---------------------------------------------------------------------- collecting a build
def records_in_notebook(nb: dict) -> list[Record]:
    """The claim records carried by the outputs of an executed notebook (a JSON dict)."""
    out = []
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = output.get("data", {})
            if MIME in data:
                payload = data[MIME]
                if isinstance(payload, str):
                    payload = json.loads(payload)
                out.append(Record.from_dict(payload))
    return out


def collect(notebooks: Iterable[tuple[str, dict]]) -> list[Record]:
    """All records of the executed notebooks ``(docname, notebook)`` in book order.

    ``ValueError`` when an id appears twice (a re-run cell shows the last record only, so a
    duplicate in an executed notebook is two different claims), or when a record's chapter
    differs from the others of its notebook.
    """
    records: list[Record] = []
    seen: dict[str, str] = {}
    for docname, nb in notebooks:
        recs = records_in_notebook(nb)
        chapters = {r.chapter for r in recs}
        if len(chapters) > 1:
            raise ValueError(f"{docname}: claims from several chapters {sorted(chapters)}")
        for rec in recs:
            if rec.id in seen:
                raise ValueError(f"claim id {rec.id} appears in {seen[rec.id]} and {docname}")
            seen[rec.id] = docname
            records.append(rec)
    return records


def failures(records: Iterable[Record], mode: str | None = None) -> list[str]:
    """Problems with a collected ledger: failed claims, a not-checked claim without reason,
    and (when ``mode`` is given) records from another mode. Empty when all is well."""
    problems = []
    for rec in records:
        if rec.status == "failed":
            problems.append(f"{rec.id} failed: {rec.line()}")
        if rec.status == "not checked" and not rec.reason:
            problems.append(f"{rec.id} is not checked and gives no reason")
        if mode is not None and rec.mode != mode:
            problems.append(f"{rec.id} was measured in {rec.mode} mode, not {mode}")
    return problems


_SYMBOL = {"<=": "≤", ">=": "≥", "<": "<", ">": ">", "==": "="}


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_page(records: Iterable[Record], chapters: dict[str, tuple[str, str]],
                mode: str) -> str:
    """The MyST source of the page *Checked claims*.

    ``chapters`` maps a chapter tag to ``(docname, title)``, e.g.
    ``{"ch02": ("notebooks/02_gram_mixtures", "Gram matrices of concentrated mixtures")}``,
    in book order; the page lives in ``book/``. ``ValueError`` for a record whose chapter is
    not listed.
    """
    records = list(records)
    unknown = sorted({r.chapter for r in records} - set(chapters))
    if unknown:
        raise ValueError(f"claims from chapters not in the table of contents: {unknown}")
    total = {s: sum(r.status == s for r in records) for s in STATUSES}
    lines = [
        "(checked-claims)=",
        "# Checked claims",
        "",
        "Every numerical claim of the book, as measured by the build that made this site "
        f"(run mode **{mode}**). Each chapter checks its claims with `gantheory.claims` as it "
        "runs: a claim that does not hold stops the build, so every claim listed as checked "
        "held in this build. A claim the run mode cannot check is listed with the reason.",
        "",
        f"In all: **{total['holds']}** claims checked and holding, **{total['not checked']}** "
        "not checked in this mode, " + (f"**{total['failed']} failed**." if total["failed"]
                                          else "none failed."),
        "",
        "*Margin* is how far inside its tolerance the measured value lies, in the units of the "
        "measured value; *tolerance* is the deviation the stated argument allows. Each claim "
        "that compares theory with simulation also has a control in the test suite (a wrong "
        "formula or an input that breaks the hypothesis) that the same check rejects. "
        "The machine-readable ledger is `_build/claims.json`; its schema is documented in "
        "`gantheory.claims`.",
        "",
    ]
    for tag, (docname, title) in chapters.items():
        recs = [r for r in records if r.chapter == tag]
        lines += [f"## {title}", ""]
        if not recs:
            lines += ["No claims recorded.", ""]
            continue
        n_ok = sum(r.holds for r in recs)
        n_nc = sum(r.status == "not checked" for r in recs)
        lines += [f"{{doc}}`Chapter <../{docname}>`: {n_ok} checked, {n_nc} not checked in "
                  "this mode. Each tolerance's argument is in the box below the table.", ""]
        lines += ["| claim | result | statement | measured | bound | margin | mode | weights |",
                  "|---|---|---|---|---|---|---|---|"]
        bases = []
        for r in recs:
            result = f"{{prf:ref}}`{r.result}`" if r.result else f"{{doc}}`chapter <../{docname}>`"
            if r.status == "not checked":
                measured, bound, margin = "not checked", f"because {r.reason}", ""
            else:
                measured = _fmt(r.measured)
                rel = _SYMBOL[r.relation]
                bound = f"{rel} {_fmt(r.reference)}"
                if r.tolerance:
                    bound += f" (tolerance {_fmt(r.tolerance)})"
                margin = _fmt(r.margin) if r.holds else f"**{_fmt(r.margin)}**"
                bases.append(f"- `{r.id}`: {r.basis}")
            lines.append("| " + " | ".join(_cell(c) for c in (  # plain ids wrap at '-' on phones
                r.id, result, r.statement, measured, bound, margin, r.mode, r.weights)) + " |")
        lines.append("")
        if bases:
            lines += [":::{admonition} How each tolerance is argued", ":class: dropdown", "",
                      *bases, ":::", ""]
    return "\n".join(lines) + "\n"
