"""The quarantine: rejected rows with their reasons, and the budget that bounds them.

A run that loses most of its input must not look like a success. After validation every row
has a status code (:mod:`gridopt.ingest.parse`); this module turns the codes into the
quarantine table, counts by reason with example rows, and measures them against the
:class:`~gridopt.ingest.model.QuarantineBudget`: the share of the file's rows and the share of
each meter's rows that were quarantined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from gridopt.ingest.model import QuarantineBudget, Reason, ReasonSummary
from gridopt.ingest.parse import CODE_REASONS, REASON_CODES, ROW_CLEAN, ROW_DUPLICATE
from gridopt.ingest.readers import CONSUMPTION, METER_ID, PRODUCTION, TIMESTAMP

QUARANTINE_COLUMNS = ["row", METER_ID, TIMESTAMP, CONSUMPTION, PRODUCTION, "reason"]
#: Example rows kept per reason.
EXAMPLES = 3
_OUT_OF_SCOPE = (REASON_CODES[Reason.UNKNOWN_METER],)
_NO_METER = (REASON_CODES[Reason.MISSING_METER_ID], REASON_CODES[Reason.UNKNOWN_METER])


def is_quarantined(status: NDArray[np.int8]) -> NDArray[np.bool_]:
    """Rows that are neither clean nor a collapsed duplicate."""
    return (status != ROW_CLEAN) & (status != ROW_DUPLICATE)


def reason_counts(status: NDArray[np.int8]) -> dict[str, int]:
    """Rows per quarantine reason (reasons in code order, only those that occur)."""
    counts = np.bincount(status.astype(np.int64), minlength=max(CODE_REASONS) + 1)
    return {str(CODE_REASONS[int(code)]): int(counts[code])
            for code in sorted(CODE_REASONS) if counts[code] > 0}


def top_reasons(status: NDArray[np.int8], meter: NDArray[np.int32],
                limit: int = 5) -> tuple[ReasonSummary, ...]:
    """The most frequent reasons (most rows first) with their first rows and meters touched."""
    out = []
    for reason, count in sorted(reason_counts(status).items(), key=lambda kv: -kv[1])[:limit]:
        code = REASON_CODES[Reason(reason)]
        rows = np.flatnonzero(status == code)
        touched = meter[rows]
        out.append(ReasonSummary(
            reason=reason, rows=count, example_rows=tuple(int(r) + 1 for r in rows[:EXAMPLES]),
            meters=int(np.unique(touched[touched >= 0]).size)))
    return tuple(out)


@dataclass(frozen=True)
class BudgetAssessment:
    """Quarantined shares of the file and of the worst meter against the budget."""

    file_fraction: float
    worst_meter: int
    worst_meter_fraction: float
    over_file: bool
    over_meters: NDArray[np.int64]

    @property
    def over(self) -> bool:
        """Whether either share exceeds the budget."""
        return self.over_file or self.over_meters.size > 0


def assess_budget(status: NDArray[np.int8], meter: NDArray[np.int32], n_meter: int,
                  budget: QuarantineBudget) -> BudgetAssessment:
    r"""Measure the quarantine against the budget.

    With :math:`Q` the quarantined rows and :math:`N` the rows, both without rows of meters
    outside a requested meter list,

    .. math::

        f_\mathrm{file} = |Q| / |N|, \qquad f_m = |Q_m| / |N_m|

    where :math:`N_m` are the rows with meter id :math:`m` (rows without a meter id count for
    the file only). Over budget: :math:`f_\mathrm{file} > f^\max_\mathrm{file}` or any
    :math:`f_m > f^\max_\mathrm{meter}`.
    """
    in_scope = ~np.isin(status, _OUT_OF_SCOPE)
    quarantined = is_quarantined(status) & in_scope
    n_rows = int(in_scope.sum())
    file_fraction = float(quarantined.sum() / n_rows) if n_rows else 1.0
    has_meter = (meter >= 0) & ~np.isin(status, _NO_METER)
    rows_m = np.bincount(meter[has_meter], minlength=n_meter)
    bad_m = np.bincount(meter[has_meter & quarantined], minlength=n_meter)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(rows_m > 0, bad_m / np.maximum(rows_m, 1), 0.0)
    worst = int(np.argmax(share)) if n_meter else -1
    over_meters = np.flatnonzero(share > budget.max_meter_fraction)
    over_meters = over_meters[np.argsort(-share[over_meters], kind="stable")]
    return BudgetAssessment(
        file_fraction=file_fraction,
        worst_meter=worst,
        worst_meter_fraction=float(share[worst]) if worst >= 0 else 0.0,
        over_file=file_fraction > budget.max_file_fraction,
        over_meters=over_meters,
    )


def budget_message(source: str, assessment: BudgetAssessment, budget: QuarantineBudget,
                   names: NDArray[np.str_], summaries: tuple[ReasonSummary, ...],
                   quarantine: pd.DataFrame, n_rows: int) -> str:
    """The over-budget error: shares, the top reasons with example rows, and the fixes."""
    parts = []
    n_bad = len(quarantine)
    if assessment.over_file:
        parts.append(f"{n_bad:,} of {n_rows:,} rows ({assessment.file_fraction:.1%}) were "
                     f"quarantined, more than the budget of {budget.max_file_fraction:.1%} of "
                     f"the file")
    if assessment.over_meters.size:
        worst = assessment.over_meters[:5]
        listed = ", ".join(f"{names[m]}" for m in worst)
        more = (f" and {assessment.over_meters.size - 5} more"
                if assessment.over_meters.size > 5 else "")
        parts.append(f"{assessment.over_meters.size} meter(s) lost more than "
                     f"{budget.max_meter_fraction:.0%} of their rows ({listed}{more}; worst "
                     f"{names[assessment.worst_meter]} at {assessment.worst_meter_fraction:.1%})")
    by_row = quarantine.set_index("row") if len(quarantine) else quarantine
    reasons = []
    for s in summaries:
        examples = []
        for row in s.example_rows:
            if row in by_row.index:
                r = by_row.loc[row]
                text = ",".join("" if pd.isna(r[c]) else str(r[c])
                                for c in (METER_ID, TIMESTAMP, CONSUMPTION, PRODUCTION))
                examples.append(f"row {row}: {text}")
        reasons.append(f"{s.reason}: {s.rows:,} rows, {s.meters} meter(s) (e.g. "
                       f"{'; '.join(examples)})")
    return (
        f"{source}: {'; '.join(parts)}. Top reasons: {' | '.join(reasons)}. No dataset was "
        f"written; the quarantine lists every rejected row. Fix the input (see "
        f"docs/ingest.md for each reason), or accept the loss knowingly with "
        f"--max-quarantine FRACTION (file) / --max-meter-quarantine FRACTION (per meter)"
    )


def quarantine_frame(table: pa.Table, rows: NDArray[np.int64],
                     status: NDArray[np.int8]) -> pd.DataFrame:
    """Raw text of the quarantined rows with their 1-based row number and reason."""
    if rows.size == 0:
        return pd.DataFrame({c: pd.Series(dtype=object if c != "row" else np.int64)
                             for c in QUARANTINE_COLUMNS})
    taken = table.take(pa.array(rows))
    out: dict[str, object] = {"row": rows + 1}
    for name in (METER_ID, TIMESTAMP, CONSUMPTION, PRODUCTION):
        col = taken.column(name).combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        if pa.types.is_timestamp(col.type):
            values = pd.Series(col.to_pandas()).astype(str).to_numpy(dtype=object)
        else:
            values = np.asarray(col.cast(pa.string()).to_pylist(), dtype=object)
        out[name] = values
    out["reason"] = [str(CODE_REASONS[int(c)]) for c in status[rows]]
    return pd.DataFrame(out, columns=QUARANTINE_COLUMNS)
