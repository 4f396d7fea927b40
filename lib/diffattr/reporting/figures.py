"""The report's figures (matplotlib, Agg backend: no display needed on cluster nodes)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

PathLike = str | os.PathLike


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out_png: PathLike) -> None:
    from ..core.atomic import atomic_path

    with atomic_path(out_png, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    _plt().close(fig)


def _errorbar_series(points: Sequence[Mapping[str, Any]], pick) -> tuple[list, list, list, list]:
    """x, y and asymmetric error bars of the points where pick(point) has a value."""
    xs, ys, lo, hi = [], [], [], []
    for p in points:
        value, ci = pick(p)
        if value is None:
            continue
        ci = ci or [None, None]
        xs.append(p["budget"])
        ys.append(value)
        lo.append(value - ci[0] if ci[0] is not None else 0.0)
        hi.append(ci[1] - value if ci[1] is not None else 0.0)
    return xs, ys, lo, hi


def budget_figure(
    points: Sequence[Mapping[str, Any]], out_png: PathLike, title: str, extra: Sequence[Mapping[str, Any]] = ()
) -> None:
    """Top: LDS with its 95 % CI against the budget in retrain units, one line per method, and each
    of `extra` ({"label", "units", "lds", "ci95"}: a method with a single cost, e.g. a baseline) as
    a point. Bottom: the paired gap LDS(unlearning) - LDS(retraining) with its paired CI: the two LDS
    share their test models, so the overlap of the top panel's CIs does not decide which is better."""
    plt = _plt()
    fig, (ax, gap_ax) = plt.subplots(2, 1, figsize=(6, 6), sharex=True, height_ratios=[3, 2])
    for method, label, color in (("unlearn", "sparsified unlearning", "C0"), ("retrain", "retraining", "C3")):
        xs, ys, lo, hi = _errorbar_series(points, lambda p, m=method: (p[m]["lds"], p[m]["ci95"]))
        if xs:
            ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=label, color=color)
    for i, p in enumerate(q for q in extra if q.get("lds") is not None):
        lo, hi = p.get("ci95") or [None, None]
        err = [[p["lds"] - lo if lo is not None else 0.0], [hi - p["lds"] if hi is not None else 0.0]]
        ax.errorbar(
            [p["units"]],
            [p["lds"]],
            yerr=err,
            marker="DP^vs*"[i % 6],
            capsize=3,
            ls="none",
            color=f"C{4 + i}",
            label=p["label"],
        )
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_ylabel("LDS (Spearman), 95 % CI")
    ax.set_title(title, fontsize=9)
    ax.legend()
    xs, ys, lo, hi = _errorbar_series(
        points, lambda p: ((p.get("gap") or {}).get("gap"), (p.get("gap") or {}).get("ci95"))
    )
    if xs:
        gap_ax.errorbar(xs, ys, yerr=[lo, hi], marker="s", capsize=3, color="C2")
    gap_ax.axhline(0, color="black", lw=0.8)
    gap_ax.set_xlabel("compute budget (retrain units)")
    gap_ax.set_ylabel("LDS gap, unlearning - retraining\n(paired 95 % CI)", fontsize=8)
    _save(fig, out_png)


def scatter_figure(
    predicted: Sequence[float], actual: Sequence[float], out_png: PathLike, behaviour: str, title: str
) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(predicted, actual, s=18)
    ax.set_xlabel(f"predicted {behaviour} (datamodel)")
    ax.set_ylabel(f"actual {behaviour} (retrained from scratch)")
    ax.set_title(title, fontsize=9)
    _save(fig, out_png)


def histogram_figure(scores: Sequence[float], out_png: PathLike, title: str, identified: bool = True) -> None:
    """Scores when the fit identifies their level (0 = no effect); else scores relative to the
    average unit (0 = average, not 'no effect')."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(scores, bins=min(50, max(5, len(scores) // 2)))
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_xlabel(
        "attribution score (higher = the unit makes the model better)"
        if identified
        else "score relative to the average unit (higher = ranked higher; the level is not identified)"
    )
    ax.set_ylabel("units")
    ax.set_title(title, fontsize=9)
    _save(fig, out_png)


def image_grid(images: np.ndarray, out_png: PathLike, title: str, ncol: int = 8) -> None:
    """images: N x H x W x C uint8."""
    plt = _plt()
    n = len(images)
    nrow = max(1, int(np.ceil(n / ncol)))
    fig, axes = plt.subplots(nrow, ncol, figsize=(ncol * 0.8, nrow * 0.8 + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img in zip(axes.flat, images):
        ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None)
    fig.suptitle(title, fontsize=9)
    _save(fig, out_png)


def unit_rows_figure(
    rows: Sequence[tuple[str, float, np.ndarray]], out_png: PathLike, title: str, per_unit: int = 8
) -> None:
    """One row per unit: its label and score, then up to `per_unit` of its training images."""
    plt = _plt()
    n = max(1, len(rows))
    fig, axes = plt.subplots(n, per_unit + 1, figsize=((per_unit + 1) * 0.7 + 1.2, n * 0.7 + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for r, (label, score, imgs) in enumerate(rows):
        axes[r, 0].text(
            1.0, 0.5, f"{label}\n{score:+.3g}", ha="right", va="center", fontsize=7, transform=axes[r, 0].transAxes
        )
        for c, img in enumerate(imgs[:per_unit]):
            axes[r, c + 1].imshow(
                img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None
            )
    fig.suptitle(title, fontsize=9)
    _save(fig, out_png)


def counterfactual_figure(result: Mapping[str, Any], out_png: PathLike) -> None:
    """Behaviour change after removing each ranking's top units (bars) against random removals
    (grey points), one panel per removed fraction."""
    plt = _plt()
    fractions = sorted({r["fraction"] for r in result["rows"]})
    fig, axes = plt.subplots(1, max(1, len(fractions)), figsize=(4.5 * max(1, len(fractions)), 3.8), squeeze=False)
    for ax, fraction in zip(axes[0], fractions):
        rows = [r for r in result["rows"] if r["fraction"] == fraction]
        names = [r["estimator"] for r in rows]
        ax.bar(range(len(rows)), [r["change"] for r in rows], color="C0", label="top-ranked removed")
        rand = result["random"][str(fraction)]
        ax.scatter([len(rows)] * len(rand), rand, color="grey", zorder=3, label="random removed")
        ax.axhline(float(np.mean(rand)), color="grey", ls="--", lw=0.8)
        ax.axhline(0, color="black", lw=0.5)
        ax.set_xticks(range(len(rows) + 1), names + ["random"], rotation=30)
        ax.set_title(f"remove {rows[0]['k']} units ({fraction:g})", fontsize=9)
        ax.set_ylabel(f"change of {result['behaviour']} vs all data")
    axes[0][0].legend(fontsize=7)
    _save(fig, out_png)
