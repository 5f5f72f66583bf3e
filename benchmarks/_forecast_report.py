"""Scores and the markdown fragment of the forecast benchmark (see bench_forecast.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gridopt.forecast import metrics as fm

MODELS = ("gridopt", "skforecast", "mlforecast", "seasonal_naive_day", "seasonal_naive_week")
PEERS = ("skforecast", "mlforecast")


def common_pairs(observed: np.ndarray, forecasts: dict[str, np.ndarray]) -> np.ndarray:
    """Mask of the (origin, step, series) pairs every model forecasts and that were observed.

    Raises if any model lacks a P50 on a pair another model or the observation has: every model
    must be scored on identical (series, time) pairs.
    """
    mask = np.isfinite(observed)
    for name, q in forecasts.items():
        if q.shape[:3] != observed.shape:
            raise AssertionError(f"{name}: forecast shape {q.shape} != observed {observed.shape}")
        has = np.isfinite(q[..., 1])
        if not np.array_equal(has & mask, mask):
            raise AssertionError(
                f"{name} has no P50 on {int((mask & ~has).sum())} observed (series, time) pairs"
            )
    return mask


def scores(observed: np.ndarray, q: np.ndarray, mask: np.ndarray, scale: float) -> dict[str, Any]:
    """MAE, RMSE, MASE of the P50 and, where present, pinball losses and P10-P90 coverage."""
    y, p10, p50, p90 = observed[mask], q[..., 0][mask], q[..., 1][mask], q[..., 2][mask]
    out: dict[str, Any] = {
        "mae": fm.mae(y, p50),
        "rmse": fm.rmse(y, p50),
        "mase": fm.mase(y, p50, scale),
        "n_pairs": int(mask.sum()),
    }
    if np.isfinite(p10).all() and np.isfinite(p90).all():
        out["pinball_p10"] = fm.pinball(y, p10, 0.1)
        out["pinball_p50"] = fm.pinball(y, p50, 0.5)
        out["pinball_p90"] = fm.pinball(y, p90, 0.9)
        out["coverage_p10_p90"] = fm.coverage(y, p10, p90)
    return out


def _f(value: Any, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _test_table(part: dict[str, Any], digits: int) -> list[str]:
    lines = [
        "| model | MAE | RMSE | MASE | pinball P10 | pinball P90 | coverage P10-P90 | "
        "train s | train s per meter-year | predict s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in MODELS:
        m = part["test"]["metrics"].get(name)
        if m is None:
            continue
        t = part["test"]["timings"].get(name, {})
        lines.append(
            f"| {name} | {_f(m['mae'], digits)} | {_f(m['rmse'], digits)} | "
            f"{_f(m['mase'], 3)} | {_f(m.get('pinball_p10'), digits)} | "
            f"{_f(m.get('pinball_p90'), digits)} | {_f(m.get('coverage_p10_p90'), 3)} | "
            f"{_f(t.get('train_seconds'), 1)} | {_f(t.get('train_seconds_per_meter_year'), 2)} | "
            f"{_f(t.get('predict_seconds'), 1)} |"
        )
    return lines


def _validation_table(part: dict[str, Any], digits: int) -> list[str]:
    lines = [
        "| model | setting | validation MAE | pinball P10+P90 | coverage | chosen |",
        "|---|---|---:|---:|---:|:---:|",
    ]
    for name in ("gridopt", *PEERS):
        search = part["validation"][name]
        for run in search["runs"]:
            m = run["metrics"]
            tail = m["pinball_p10"] + m["pinball_p90"] if "pinball_p10" in m else None
            lines.append(
                f"| {name} | {run['label']} | {_f(m['mae'], digits)} | {_f(tail, digits)} | "
                f"{_f(m.get('coverage_p10_p90'), 3)} | "
                f"{'yes' if run['label'] == search['chosen_label'] else ''} |"
            )
    return lines


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


def _targets(case: str, target: str, part: dict[str, Any], digits: int) -> list[str]:
    m = part["test"]["metrics"]
    g = m["gridopt"]
    best_name = min(PEERS, key=lambda n: m[n]["mae"])
    best = m[best_name]["mae"]
    gap = 100.0 * (g["mae"] / best - 1.0)
    lines = [
        f"- Target gridopt MAE below the best peer ({best_name}, {best:.{digits}f}): gridopt "
        f"{g['mae']:.{digits}f} ({gap:+.1f} %) -> {_verdict(g['mae'] < best)}"
        + ("" if g["mae"] < best else f" (gridopt loses to {best_name} on this window)")
        + "."
    ]
    if case == "vic":
        cov = g["coverage_p10_p90"]
        lines.append(
            f"- Target P10-P90 coverage in [0.72, 0.88]: {cov:.3f} -> "
            f"{_verdict(0.72 <= cov <= 0.88)}."
        )
    naive = min(m["seasonal_naive_day"]["mae"], m["seasonal_naive_week"]["mae"])
    if target == "consumption" and case == "citylearn":
        gain = 1.0 - g["mae"] / naive
        lines.append(
            f"- Target MAE at least 15 % below the better seasonal naive ({naive:.{digits}f}): "
            f"{100 * gain:.1f} % below -> {_verdict(gain >= 0.15)}."
        )
    if target == "production":
        lines.append(
            f"- Target PV MAE no worse than the better seasonal naive ({naive:.{digits}f}): "
            f"{_verdict(g['mae'] <= naive)}."
        )
    return lines


def render(results: dict[str, Any], header: str) -> str:
    """Markdown fragment of every case in ``results`` (the JSON's ``cases``)."""
    lines = [header, "## Forecasting", ""]
    lines += [
        "Day-ahead forecasts (origin 00:00 local, 24 hourly steps) of gridopt's global quantile "
        "model against skforecast and mlforecast (both LightGBM) and the seasonal naive "
        "forecasts. Every setting of every model (gridopt: tree size, learning rate, history "
        "length, calibration; peers: LightGBM leaves and trees) was chosen by a small grid "
        "search on a validation window with models fitted on the data before it; the chosen "
        "models were refitted on train + validation and scored once on the later test window. "
        "All models get the same exogenous inputs (calendar, every weather column at the "
        "target hour, one hour ahead and one day earlier, solar geometry where the site is "
        "known; observed weather as a perfect forecast) and are scored on identical "
        "(series, time) pairs (asserted). One thread per model. Set-ups: "
        "benchmarks/_forecast_peers.py docstring.",
        "",
    ]
    for case in ("vic", "citylearn"):
        if case not in results:
            lines += [
                f"### {case}: not run with this script version yet "
                f"(`.venv/bin/python benchmarks/bench_forecast.py --case {case} --threads 1`)",
                "",
            ]
            continue
        r = results[case]
        digits = 1 if case == "vic" else 4
        run = r.get("run", {})
        if run:
            load = run["load_average_1_5_15"]
            lines += [
                f"Case `{case}` measured by `{run['command']}` (finished {run['started']}, "
                f"{run['wall_seconds']:.0f} s; load average at its start {load[0]:.2f} / "
                f"{load[1]:.2f} / {load[2]:.2f}).",
                "",
            ]
        for target, part in r["targets"].items():
            split = r["split"]
            lines += [
                f"### {r['title']}: {target} ({r['unit']})",
                "",
                f"- Train: {split['train']}; validation origins {split['validation']} "
                f"({part['validation']['n_origins']}); test origins {split['test']} "
                f"({part['test']['n_origins']} origins x 24 h x {part['series']} series = "
                f"{part['test']['metrics']['gridopt']['n_pairs']} pairs).",
                f"- {split['note']}",
                "",
                "Test window (scored once, after every setting was fixed on validation):",
                "",
                *_test_table(part, digits),
                "",
                *_targets(case, target, part, digits),
                "",
                "Validation window (settings search; fitted on the train window):",
                "",
                *_validation_table(part, digits),
                "",
            ]
    return "\n".join(lines)
