"""The paper's comparison as artifacts: the equal-budget LDS curve (budget.json + figure), Table 1,
and the report's figures. No torch import: these run on the stored behaviours and benchmarks."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .atomic import read_json, write_json, write_text
from .budget import budget_curve, cost_model
from .matrix import read_matrix

PathLike = str | os.PathLike


def _mask(sub: Mapping[str, Any]) -> np.ndarray:
    mask = np.zeros(sub["n_units"], dtype=bool)
    mask[sub["unit_indices"]] = True
    return mask


def baseline_rows(subsets: Mapping[str, dict], behaviour_jsons: Sequence[PathLike], target: str
                  ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Masks and behaviours of the retraining baseline (models retrained on training subsets)."""
    sids = [Path(p).stem for p in behaviour_jsons]
    masks = np.array([_mask(subsets[s]) for s in sids])
    y = np.array([read_json(p)["metrics"][target] for p in behaviour_jsons], dtype=np.float64)
    return masks, y, sids


def budget_stage(matrix_h5: PathLike, subsets: Mapping[str, dict], baseline_jsons: Sequence[PathLike], target: str,
                 costs: Mapping[str, Any], grid: Sequence[float], fit: Mapping[str, Any], boot: Mapping[str, Any],
                 out_json: PathLike, out_png: PathLike, caption: str,
                 baselines: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """LDS of the unlearning- and the retraining-based datamodel at each budget on the grid, and the
    paired gap between them; `baselines` (baselines.cost.baseline_points) join as single points."""
    from .budget import GAP_CONVENTION, compare_first
    from .figures import budget_figure

    m = read_matrix(matrix_h5)
    ur, tr = m.rows("unlearn"), m.rows("retrain")
    y = m.behaviour(target)
    b_masks, b_y, b_ids = baseline_rows(subsets, baseline_jsons, target)
    points = budget_curve(grid, costs, (m.masks[ur], y[ur]), (b_masks, b_y), (m.masks[tr], y[tr]), fit, boot)
    full = compare_first((m.masks[ur], y[ur]), len(ur), (b_masks, b_y), len(b_y), (m.masks[tr], y[tr]), fit, boot)
    out = {"behaviour": target, "estimator": fit["estimator"], "costs": dict(costs), "grid": list(grid),
           "points": points, "all_models": full, "gap_convention": GAP_CONVENTION,
           "baseline_subsets": b_ids, "test_models": int(len(tr)),
           "accounting": "budget in retrain units = wall seconds / median(retrain job + its evaluation job); "
                         "unlearning pays base training + pruning/fine-tune once (one_off_units) before its first "
                         "model; each method's models are the first m of its subsets"}
    if baselines:
        from .baselines.cost import GAP_CONVENTION as BASELINE_GAP

        out.update({"baselines": list(baselines), "baseline_gap_convention": BASELINE_GAP})
    write_json(out_json, out)
    budget_figure(points, out_png, caption, [{**b, "label": b["method"]} for b in baselines])
    return out


def table1(base: Mapping[str, Any], pruned: Mapping[str, Any], base_train: Mapping[str, Any],
           prune_train: Mapping[str, Any], retrained: Sequence[Mapping[str, Any]],
           unlearned: Sequence[Mapping[str, Any]], pairs: Sequence[Mapping[str, Any]], metric: str,
           out_csv: PathLike) -> list[dict[str, Any]]:
    """Table 1: FID (vs the training data) of each model kind, FID2 between unlearned and retrained
    models on the same subsets and its floor (two retrainings), train steps and measured minutes."""

    def mean_sd(values: Sequence[float]) -> tuple[float, float | str]:
        v = np.asarray(values, dtype=float)  # one value has no sd: left blank
        return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else ""

    def minutes(records: Sequence[Mapping[str, Any]]) -> float:
        return float(np.median([r["train_seconds"] for r in records])) / 60.0

    r_fid, r_sd = mean_sd([r["metrics"][metric] for r in retrained])
    u_fid, u_sd = mean_sd([r["metrics"][metric] for r in unlearned])
    fid2, fid2_sd = mean_sd([p["unlearn_vs_retrain"] for p in pairs])
    floor, floor_sd = mean_sd([p["retrain_vs_retrain"] for p in pairs])
    r_min, u_min = minutes(retrained), minutes(unlearned)
    rows = [
        {"model": "original", metric: base["metrics"][metric], f"{metric}_sd": "", "fid2": "", "fid2_sd": "",
         "n_models": 1, "train_steps": base_train["steps"], "train_minutes": base_train["train_seconds"] / 60, "speedup": ""},
        {"model": "pruned + fine-tuned", metric: pruned["metrics"][metric], f"{metric}_sd": "", "fid2": "", "fid2_sd": "",
         "n_models": 1, "train_steps": prune_train["steps"], "train_minutes": prune_train["train_seconds"] / 60,
         "speedup": ""},
        {"model": "retrained", metric: r_fid, f"{metric}_sd": r_sd, "fid2": floor, "fid2_sd": floor_sd,
         "n_models": len(retrained), "train_steps": retrained[0]["train_steps"], "train_minutes": r_min, "speedup": 1.0},
        {"model": "unlearned", metric: u_fid, f"{metric}_sd": u_sd, "fid2": fid2, "fid2_sd": fid2_sd,
         "n_models": len(unlearned), "train_steps": unlearned[0]["train_steps"], "train_minutes": u_min,
         "speedup": r_min / u_min},
    ]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in row.items()})
    write_text(out_csv, buf.getvalue())
    return rows


def attribution_figures(lds_json: PathLike, attributions_csv: PathLike, data_npz: PathLike, unit: str,
                        top_k: int, out_scatter: PathLike, out_hist: PathLike, out_top: PathLike,
                        out_bottom: PathLike, caption: str, reference_npz: PathLike | None = None,
                        kmeans: Mapping[str, Any] | None = None, csv_path: str | None = None,
                        expected_identified: bool | None = None) -> dict[str, Any]:
    """Predicted-vs-actual scatter, attribution histogram, and two unit grids: the most helpful /
    most harmful units when the primary fit identifies the level of its scores, else the highest- /
    lowest-ranked units relative to the average one. `expected_identified`: what the report's
    labels (fixed before any model exists) assume; a fit that disagrees stops with one line."""
    from .datamodel import unit_grids
    from .figures import histogram_figure, scatter_figure, unit_rows_figure
    from .pipeline import load_units

    res = read_json(lds_json)
    pred = res["estimators"][res["estimator"]]["predicted"]
    scatter_figure(pred, res["actual"], out_scatter, res["behaviour"],
                   f"{caption}\nLDS {res['lds']:.3f} over {res['n_test_models']} retrained test models; "
                   f"{ceiling_text(res.get('ceiling'))}")
    with open(attributions_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))  # sorted by rank: most helpful first
    identified = rows[0]["sign_identified"] == "1"
    if expected_identified is not None and identified != expected_identified:
        raise ValueError(f"{attributions_csv}: sign_identified is {int(identified)} but the report labels assume "
                         f"{int(expected_identified)}; update estimators.LEVEL_BY_DESIGN")
    column = "score" if identified else "relative_score"
    scores = np.array([float(r[column]) + 0.0 for r in rows])
    histogram_figure(scores, out_hist, f"{caption}\n{len(rows)} units", identified)
    ds, units = load_units(data_npz, unit, reference_npz, kmeans, csv_path)
    index = {uid: i for i, uid in enumerate(units.ids)}
    imgs = ((ds.images.transpose(0, 2, 3, 1) + 1) * 127.5).round().clip(0, 255).astype(np.uint8)

    def unit_rows(chosen):
        return [(rows[i]["unit_id"], scores[i], imgs[units.members[index[rows[i]["unit_id"]]][:8]]) for i in chosen]

    grids = unit_grids(scores, identified, top_k)
    for (title, chosen), out in ((grids["top"], out_top), (grids["bottom"], out_bottom)):
        unit_rows_figure(unit_rows(chosen), out, f"{title}: {len(chosen)} units ({caption})")
    return {"sign_identified": identified, "grids": {k: (t, [rows[i]["unit_id"] for i in c]) for k, (t, c) in grids.items()}}


def ceiling_text(ceiling: Mapping[str, Any] | None) -> str:
    """One line for the LDS ceiling, or why there is none."""
    if not ceiling or ceiling.get("spearman") is None:
        return "LDS ceiling " + ((ceiling or {}).get("why") or "not computed")
    ci = ceiling.get("ci95") or [None, None]
    ci_s = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if None not in ci else ""
    bound = f", a noise-free predictor at most about {ceiling['bound']:.3f}" if ceiling.get("bound") is not None else ""
    return f"two retrainings agree at Spearman {ceiling['spearman']:.3f}{ci_s} over {ceiling['n_subsets']} subsets{bound}"


def fidelity_text(fidelity: Mapping[str, Any] | None) -> str:
    """One line for the proxy fidelity, or why there is none."""
    if not fidelity or fidelity.get("spearman") is None:
        return "not computed (" + ((fidelity or {}).get("why") or "no baseline retrainings") + ")"

    def ci(key: str) -> str:
        lo, hi = fidelity.get(key) or [None, None]
        return f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""

    pearson = f"{fidelity['pearson']:.3f}" if fidelity.get("pearson") is not None else "n/a"
    return (f"Spearman {fidelity['spearman']:.3f}{ci('spearman_ci95')}, Pearson {pearson}{ci('pearson_ci95')} "
            f"over {fidelity['n_subsets']} subsets")


def gap_text(gap: Mapping[str, Any] | None) -> str:
    """The paired gap LDS(unlearning) - LDS(retraining) with its CI and what it allows one to say."""
    if not gap or gap.get("gap") is None:
        return "n/a (" + ((gap or {}).get("why") or "no LDS") + ")"
    ci = gap.get("ci95") or [None, None]
    ci_s = f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if None not in ci else ""
    if not gap.get("excludes_zero"):
        verdict = "CI holds 0: not separated"
    else:
        verdict = "unlearning better" if gap["gap"] > 0 else "retraining better"
    return f"{gap['gap']:+.3f}{ci_s} ({verdict})"


def summary_html(lds_res: Mapping[str, Any], budget: Mapping[str, Any], table1_csv: PathLike, config_line: str,
                 out_html: PathLike) -> None:
    """The report's first page: both methods' LDS with the paired gap between them, the LDS ceiling
    (lds_res["ceiling"]; absent or None = not computed), the proxy fidelity, the speed-up, Table 1."""
    import html

    def fmt(r: Mapping[str, Any] | None) -> str:
        if not r or r.get("lds") is None:
            return "n/a (" + html.escape((r or {}).get("why", "no models")) + ")"
        ci = r.get("ci95") or [None, None]
        ci_s = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if None not in ci else ""
        return f"{r['lds']:.3f}{ci_s} with {r['models']} models"

    rows = ["<tr><th>budget (retrain units)</th><th>unlearning LDS</th><th>retraining LDS</th>"
            "<th>gap, unlearning - retraining [paired CI]</th></tr>"]
    for p in budget["points"]:
        rows.append(f"<tr><td>{p['budget']:g}</td><td>{fmt(p['unlearn'])}</td><td>{fmt(p['retrain'])}</td>"
                    f"<td>{html.escape(gap_text(p.get('gap')))}</td></tr>")
    t_html = _table_rows(table1_csv)
    c = budget["costs"]
    ci = lds_res["ci95"]
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>diffattr summary</title>
<style>body{{font-family:sans-serif;max-width:60em}}td,th{{border:1px solid #ccc;padding:2px 6px}}
table{{border-collapse:collapse;margin:0.5em 0}}</style></head><body>
<h2>Global data attribution: summary</h2>
<p>{html.escape(config_line)}</p>
<p><b>Unlearning-based datamodel</b> ({html.escape(lds_res['estimator'])}, {html.escape(lds_res['behaviour'])}):
LDS {lds_res['lds']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] from {lds_res['n_train_models']} unlearned models,
on {lds_res['n_test_models']} models retrained from scratch.<br>
<b>Retraining-based datamodel</b> (same estimator and CV): {fmt(budget['all_models']['retrain'])}.<br>
<b>Gap</b> with all models, LDS(unlearning) - LDS(retraining), paired bootstrap over the same test models:
{html.escape(gap_text(budget['all_models'].get('gap')))}.<br>
<b>LDS ceiling</b> (training noise): {html.escape(ceiling_text(lds_res.get('ceiling')))}.<br>
<b>Proxy fidelity</b> (unlearned against retrained model of the same {html.escape(lds_res['behaviour'])} on the
baseline subsets: how well the cheap model ranks subsets like the expensive one):
{html.escape(fidelity_text(lds_res.get('proxy_fidelity')))}.</p>
<p><b>Cost</b>: one retraining (job + evaluation, median) {c['unit_seconds']:.1f} s; one unlearned model
{c['unlearn_seconds_per_model']:.1f} s: <b>{c['speedup']:.1f}x</b> cheaper. One-off cost of the unlearning
method (base training + pruning/fine-tune): {c['one_off_units']:.2f} retrain units.</p>
<h3>LDS at equal compute</h3><table>{''.join(rows)}</table>
<p>The two methods' LDS share their test models, so whether their separate CIs overlap does not decide
which is better; the paired CI of the gap does.</p>
<h3>Table 1</h3><table>{t_html}</table></body></html>
"""
    write_text(out_html, doc)


def table_html(csv_path: PathLike, out_html: PathLike, title: str, notes: Sequence[str] = ()) -> None:
    """A CSV as a standalone HTML table (the Snakemake report shows HTML, not CSV, inline), with
    optional notes above it."""
    import html

    body = _table_rows(csv_path)
    paras = "".join(f"<p>{html.escape(n)}</p>" for n in notes)
    write_text(out_html, f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif}}td,th{{border:1px solid #ccc;padding:2px 6px}}
table{{border-collapse:collapse}}</style></head><body>{paras}<table>{body}</table></body></html>
""")


def _table_rows(csv_path: PathLike) -> str:
    import html

    with open(csv_path, newline="") as fh:
        rows = list(csv.reader(fh))
    return "".join("<tr>" + "".join(f"<{t}>{html.escape(c)}</{t}>" for c in row) + "</tr>"
                   for row, t in zip(rows, ["th"] + ["td"] * (len(rows) - 1)))
