"""PNG figures with matplotlib (headless): confusion matrices and per-type F1 across runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on training machines
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def save_figure(fig, path: str | Path) -> Path:
    path = Path(path)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)
    return path


def confusion_heatmap(matrix: Mapping[str, Mapping[str, int]], title: str, path: str | Path) -> Path:
    rows = list(matrix)
    cols = list(next(iter(matrix.values())))
    values = np.array([[matrix[r][c] for c in cols] for r in rows])
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * len(cols), 1.0 + 0.6 * len(rows)))
    ax.imshow(values, cmap="Blues")
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    top = values.max() or 1
    for i in range(len(rows)):
        for j in range(len(cols)):
            if values[i, j]:
                ax.text(
                    j,
                    i,
                    str(values[i, j]),
                    ha="center",
                    va="center",
                    color="white" if values[i, j] > top / 2 else "black",
                    fontsize=8,
                )
    return save_figure(fig, path)


def f1_per_type(
    series: Mapping[str, Mapping[str, tuple[float, float]]], types: Sequence[str], title: str, path: str | Path
) -> Path:
    """Grouped bars: for each type, one bar per run or config (mean F1, with ± std whiskers)."""
    names = list(series)
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(types) + 1.5), 4.0))
    x = np.arange(len(types))
    for k, name in enumerate(names):
        means = [series[name].get(t, (0.0, 0.0))[0] for t in types]
        stds = [series[name].get(t, (0.0, 0.0))[1] for t in types]
        ax.bar(x + (k - (len(names) - 1) / 2) * width, means, width, yerr=stds, capsize=2, label=name)
    ax.set_xticks(x, types, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)
