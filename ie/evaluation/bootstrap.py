"""The paired bootstrap: a confidence interval of the F1 difference between two systems scored on the
same test sentences (Koehn 2004; Berg-Kirkpatrick et al. 2012)."""

from __future__ import annotations

import numpy as np


def micro_f1(counts: np.ndarray) -> np.ndarray:
    """Micro F1 from ``[..., 3]`` arrays of summed ``[tp, fp, fn]``."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(denom, dtype=float), where=denom > 0)


def paired_bootstrap(
    base: np.ndarray, other: np.ndarray, samples: int = 1000, seed: int = 0, level: float = 0.95
) -> dict:
    """CI of ``F1(other) - F1(base)`` by resampling test sentences with replacement, the same
    sentences for both systems (paired). Inputs are ``(replicates, sentences, 3)`` arrays of
    per-sentence ``[tp, fp, fn]``; a system's F1 is the mean over its replicates (seeds)."""
    if base.shape[1] != other.shape[1]:
        raise ValueError("paired bootstrap needs the same test sentences for both systems")
    n = base.shape[1]
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=samples)  # how often each sentence is drawn

    def f1(x: np.ndarray) -> np.ndarray:  # -> (samples,)
        return micro_f1(np.einsum("bn,rnk->brk", weights, x)).mean(axis=1)

    diffs = f1(other.astype(float)) - f1(base.astype(float))
    observed = float(micro_f1(other.sum(axis=1)).mean() - micro_f1(base.sum(axis=1)).mean())
    return _interval(diffs, observed, level, samples, seed)


def _interval(diffs: np.ndarray, observed: float, level: float, samples: int, seed: int) -> dict:
    low, high = np.quantile(diffs, [(1 - level) / 2, 1 - (1 - level) / 2])
    return {
        "difference": observed,
        "ci_low": float(low),
        "ci_high": float(high),
        "level": level,
        "samples": samples,
        "seed": seed,
        "excludes_zero": bool(low > 0 or high < 0),
    }


def paired_bootstrap_by_stratum(
    strata: list[tuple[np.ndarray, np.ndarray]], samples: int = 1000, seed: int = 0, level: float = 0.95
) -> dict:
    """The same CI where each replicate has test sentences of its own (nested cross-validation: the inner
    folds of each outer fold test other articles): ``strata`` is one ``(base, other)`` pair of
    ``(sentences, 3)`` arrays per replicate, sentences are resampled within each, and a system's F1 is the
    mean over replicates, as it is reported."""
    rng = np.random.default_rng(seed)
    diffs = np.zeros(samples)
    observed = 0.0
    for base, other in strata:
        if base.shape != other.shape:
            raise ValueError("paired bootstrap needs the same test sentences for both systems in every replicate")
        n = base.shape[0]
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=samples)
        diffs += micro_f1(weights @ other.astype(float)) - micro_f1(weights @ base.astype(float))
        observed += float(micro_f1(other.sum(axis=0)) - micro_f1(base.sum(axis=0)))
    return {
        **_interval(diffs / len(strata), observed / len(strata), level, samples, seed),
        "stratified_by": "replicate",
    }
