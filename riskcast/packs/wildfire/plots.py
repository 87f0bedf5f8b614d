"""ROC curves of the fire-occurrence models: one panel per feature set, one curve per model.

A model keeps its colour in every panel.

Drawn with matplotlib's Agg canvas on a bare ``Figure`` (no pyplot, no global backend switch), so
it works headless and leaves other users of matplotlib alone. Each curve is the ROC of the
out-of-fold scores pooled over every fold and repeat of the cross-validation (Fawcett 2006,
*An introduction to ROC analysis*, Pattern Recognition Letters 27, pp. 861-874, section 8 on
pooling), its pooled AUC in the legend.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from riskcast.packs.wildfire.evaluation import RocCurve


def plot_roc(curves: Mapping[str, Mapping[str, RocCurve]], path: Path,
             title: str = "Fire occurrence, Algerian Forest Fires 2012") -> Path:
    """Write a PNG of ``curves`` (feature set -> model -> curve) to ``path``; return ``path``."""
    panels = [(name, models) for name, models in curves.items() if models]
    fig = Figure(figsize=(5.5 * max(len(panels), 1), 5.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, max(len(panels), 1), squeeze=False)[0]
    names = list(dict.fromkeys(model for _, models in panels for model in models))
    colours = {name: f"C{i % 10}" for i, name in enumerate(names)}
    for ax, (name, models) in zip(axes, panels, strict=False):
        ax.plot([0, 1], [0, 1], color="0.7", linestyle=":", linewidth=1)
        for model, curve in models.items():
            if curve.fpr.size == 0:
                continue
            ax.plot(curve.fpr, curve.tpr, linewidth=1.5, color=colours[model],
                    label=f"{model} (AUC {curve.auc:.3f})")
        ax.set_title(f"features: {name}")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.01)
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=7)
    fig.suptitle(f"{title}: pooled out-of-fold ROC")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
