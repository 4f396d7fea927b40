"""Text and HTML for the report: the summary page, tables as HTML, and one line each for the LDS
ceiling, the proxy fidelity and the paired gap."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.atomic import write_text

PathLike = str | os.PathLike


def ceiling_text(ceiling: Mapping[str, Any] | None) -> str:
    """One line for the LDS ceiling, or why there is none (with several seeds: from two halves of them)."""
    if not ceiling or ceiling.get("spearman") is None:
        return "LDS ceiling " + ((ceiling or {}).get("why") or "not computed")
    ci = ceiling.get("ci95") or [None, None]
    ci_s = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if None not in ci else ""
    bound = f", a noise-free predictor at most about {ceiling['bound']:.3f}" if ceiling.get("bound") is not None else ""
    seeds = ceiling.get("n_seeds") or 1
    mean = f", the {seeds}-seed mean's {ceiling['noise_sd_target']:.3g}," if seeds > 1 else ""
    noise = (
        f"; one retraining's noise sd {ceiling['noise_sd']:.3g}{mean} against a spread (sd) of "
        f"{ceiling['spread_sd']:.3g} over the test models ({100 * ceiling['noise_share']:.0f} % of its variance)"
        if ceiling.get("noise_share") is not None
        else ""
    )
    if seeds > 1:
        a, b = ceiling["halves"]
        agree = f"two halves of {seeds} seeds ({a} and {b}) agree at Spearman"
    else:
        agree = "two retrainings agree at Spearman"
    return f"{agree} {ceiling['spearman']:.3f}{ci_s} over {ceiling['n_subsets']} subsets{bound}{noise}"


def fidelity_text(fidelity: Mapping[str, Any] | None) -> str:
    """One line for the proxy fidelity, or why there is none."""
    if not fidelity or fidelity.get("spearman") is None:
        return "not computed (" + ((fidelity or {}).get("why") or "no baseline retrainings") + ")"

    def ci(key: str) -> str:
        lo, hi = fidelity.get(key) or [None, None]
        return f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""

    pearson = f"{fidelity['pearson']:.3f}" if fidelity.get("pearson") is not None else "n/a"
    return (
        f"Spearman {fidelity['spearman']:.3f}{ci('spearman_ci95')}, Pearson {pearson}{ci('pearson_ci95')} "
        f"over {fidelity['n_subsets']} subsets"
    )


def gap_text(gap: Mapping[str, Any] | None) -> str:
    """The paired gap LDS(unlearning) - LDS(retraining) with its CI and what it allows one to say."""
    if not gap or gap.get("gap") is None:
        return "n/a (" + ((gap or {}).get("why") or "no LDS") + ")"
    ci = gap.get("ci95") or [None, None]
    ci_s = f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if None not in ci else ""
    winner = "unlearning better" if gap["gap"] > 0 else "retraining better"
    if "p_holm" in gap:  # one of several budgets read together
        n = gap["n_compared"]
        holm_s = f"Holm-adjusted p {gap['p_holm']:.3g} over {n} budget{'s' if n != 1 else ''}"
        verdict = f"{winner}, {holm_s}" if gap["separated"] else f"not separated: {holm_s}"
    else:
        verdict = winner if gap.get("excludes_zero") else "CI holds 0: not separated"
    return f"{gap['gap']:+.3f}{ci_s} ({verdict})"


def one_off_label(costs: Mapping[str, Any]) -> str:
    """What the unlearning method's one-off cost holds: base training, or only the import of a
    pretrained base model (base_model.path), whose training was paid outside the run."""
    if costs.get("base_imported"):
        return "importing the pretrained base model, whose training is not counted, + pruning/fine-tune"
    return "base training + pruning/fine-tune"


def summary_html(
    lds_res: Mapping[str, Any], budget: Mapping[str, Any], table1_csv: PathLike, config_line: str, out_html: PathLike
) -> None:
    """The report's first page: both methods' LDS with the paired gap between them, the LDS ceiling
    (lds_res["ceiling"]; absent or None = not computed), the proxy fidelity, the speed-up, Table 1."""
    import html

    def fmt(r: Mapping[str, Any] | None) -> str:
        if not r or r.get("lds") is None:
            return "n/a (" + html.escape((r or {}).get("why", "no models")) + ")"
        ci = r.get("ci95") or [None, None]
        ci_s = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if None not in ci else ""
        return f"{r['lds']:.3f}{ci_s} with {r['models']} models"

    rows = [
        "<tr><th>budget (retrain units)</th><th>unlearning LDS</th><th>retraining LDS</th>"
        "<th>gap, unlearning - retraining [paired CI]</th></tr>"
    ]
    for p in budget["points"]:
        rows.append(
            f"<tr><td>{p['budget']:g}</td><td>{fmt(p['unlearn'])}</td><td>{fmt(p['retrain'])}</td>"
            f"<td>{html.escape(gap_text(p.get('gap')))}</td></tr>"
        )
    t_html = _table_rows(table1_csv)
    c = budget["costs"]
    ci = lds_res["ci95"]
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>diffattr summary</title>
<style>body{{font-family:sans-serif;max-width:60em}}td,th{{border:1px solid #ccc;padding:2px 6px}}
table{{border-collapse:collapse;margin:0.5em 0}}</style></head><body>
<h2>Global data attribution: summary</h2>
<p>{html.escape(config_line)}</p>
<p><b>Unlearning-based datamodel</b> ({html.escape(lds_res["estimator"])}, {html.escape(lds_res["behaviour"])}):
LDS {lds_res["lds"]:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] from {lds_res["n_train_models"]} unlearned models,
on {lds_res["n_test_models"]} models retrained from scratch.<br>
<b>Retraining-based datamodel</b> (same estimator and CV): {fmt(budget["all_models"]["retrain"])}.<br>
<b>Gap</b> with all models, LDS(unlearning) - LDS(retraining), paired bootstrap over the same test models:
{html.escape(gap_text(budget["all_models"].get("gap")))}.<br>
<b>LDS ceiling</b> (training noise): {html.escape(ceiling_text(lds_res.get("ceiling")))}.<br>
<b>Proxy fidelity</b> (unlearned against retrained model of the same {html.escape(lds_res["behaviour"])} on the
baseline subsets: how well the cheap model ranks subsets like the expensive one):
{html.escape(fidelity_text(lds_res.get("proxy_fidelity")))}.</p>
<p><b>Cost</b>: one retraining (job + evaluation, median) {c["unit_seconds"]:.1f} s; one unlearned model
{c["unlearn_seconds_per_model"]:.1f} s: <b>{c["speedup"]:.1f}x</b> cheaper. One-off cost of the unlearning
method ({html.escape(one_off_label(c))}): {c["one_off_units"]:.2f} retrain units.</p>
<h3>LDS at equal compute</h3><table>{"".join(rows)}</table>
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
    write_text(
        out_html,
        f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif}}td,th{{border:1px solid #ccc;padding:2px 6px}}
table{{border-collapse:collapse}}</style></head><body>{paras}<table>{body}</table></body></html>
""",
    )


def _table_rows(csv_path: PathLike) -> str:
    import html

    with open(csv_path, newline="") as fh:
        rows = list(csv.reader(fh))
    return "".join(
        "<tr>" + "".join(f"<{t}>{html.escape(c)}</{t}>" for c in row) + "</tr>"
        for row, t in zip(rows, ["th"] + ["td"] * (len(rows) - 1))
    )
