"""Candidate pairs read off the NER windows themselves, for a relation head that shares the NER encoder
(``model.shared_encoder=joint`` or ``frozen``): no markers, no second encoder pass. A pair is its two mentions' subword
ranges in one window plus their entity types (the vectors: :mod:`ie.models.shared_pairs`).

A pair is scored in the first window of its sentence that holds both mentions whole; a pair that no
window holds (a sentence longer than the window, its mentions far apart) is counted as lost, as the
marker encoding counts its own (:mod:`ie.encoding.markers`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ie.encoding.align import IGNORE_INDEX, Window, pad_ids
from ie.encoding.markers import marked_spans

ENCODING = "shared-encoder/v1"  # recorded in the RE checkpoint of such a run (ie.json "encoding")


@dataclass(frozen=True)
class WindowPairs:
    """The candidate pairs one window scores: ``pairs`` index the caller's entities; ``bounds[k]`` is
    entity k's first and last subword position in the window."""

    pairs: list[tuple[int, int]]
    bounds: dict[int, tuple[int, int]]

    def features(self, entity_labels: Sequence[str], entities: Sequence[tuple]) -> dict:
        return {
            "head_bounds": [list(self.bounds[h]) for h, _ in self.pairs],
            "tail_bounds": [list(self.bounds[t]) for _, t in self.pairs],
            "head_types": [entity_labels.index(entities[h][2]) for h, _ in self.pairs],
            "tail_types": [entity_labels.index(entities[t][2]) for _, t in self.pairs],
        }


def subword_bounds(window: Window, start: int, end: int) -> tuple[int, int] | None:
    """First and last subword position of words ``[start, end)`` in ``window``; None unless all are in it."""
    if not (window.word_start <= start and end <= window.word_end):
        return None
    positions = [p for p, w in enumerate(window.word_ids) if w is not None and start <= w < end]
    return positions[0], positions[-1]


def sentence_pairs(windows: Sequence[Window], entities: Sequence[tuple], schema) -> tuple[list[WindowPairs], int]:
    """Per window of one sentence (windows in reading order), the candidate pairs (by the schema's types and
    order) it scores, and how many candidates no window holds. ``entities`` are ``(start, end, label, ...)``
    word spans. Work grows with the pairs in reach: candidates past every window of a mention are counted
    by label, never enumerated, so a run-on "sentence" with thousands of mentions stays fast."""
    order = marked_spans(entities, schema)  # by start
    bounds = [
        {k: b for k in order if (b := subword_bounds(w, entities[k][0], entities[k][1])) is not None} for w in windows
    ]
    labels = sorted({entities[k][2] for k in order})
    index = {label: n for n, label in enumerate(labels)}
    # later_fits[a][b]: candidates among an earlier a and a later b, in either role order
    later_fits = [[schema.is_candidate(a, 0, b, 1) + schema.is_candidate(b, 1, a, 0) for b in labels] for a in labels]
    suffix = [[0] * len(labels) for _ in range(len(order) + 1)]
    for i in range(len(order) - 1, -1, -1):
        suffix[i] = list(suffix[i + 1])
        suffix[i][index[entities[order[i]][2]]] += 1
    taken: list[list[tuple[int, int]]] = [[] for _ in windows]
    lost = 0
    for i, h in enumerate(order):
        homes = [k for k, b in enumerate(bounds) if h in b]
        reach = max((windows[k].word_end for k in homes), default=entities[h][0])
        j = i + 1
        while j < len(order) and entities[order[j]][0] < reach:
            t = order[j]
            home = next((k for k in homes if t in bounds[k]), None)
            for head, tail in ((h, t), (t, h)):
                he, te = entities[head], entities[tail]
                if schema.is_candidate(he[2], he[0], te[2], te[0]):
                    if home is None:
                        lost += 1
                    else:
                        taken[home].append((head, tail))
            j += 1
        lost += sum(count * fits for count, fits in zip(suffix[j], later_fits[index[entities[h][2]]]))
    return [WindowPairs(pairs, {k: b[k] for pair in pairs for k in pair}) for pairs, b in zip(taken, bounds)], lost


def collate_joint(rows: Sequence[dict], pad_id: int, multiple: int = 1) -> dict[str, np.ndarray]:
    """Pad NER windows into a batch (their token labels with the ignore index) and flatten their pairs:
    ``pair_rows[p]`` is the batch row of pair ``p``. Named as the joint model's forward arguments."""
    ids, mask = pad_ids([r["input_ids"] for r in rows], pad_id, multiple)
    labels = np.full(ids.shape, IGNORE_INDEX, dtype=np.int64)
    for i, r in enumerate(rows):
        labels[i, : len(r["labels"])] = r["labels"]
    batch = {
        "input_ids": ids,
        "attention_mask": mask,
        "labels": labels,
        "pair_rows": np.array([i for i, r in enumerate(rows) for _ in r["head_types"]], dtype=np.int64),
    }
    for key in ("head_bounds", "tail_bounds"):
        batch[key] = np.array([b for r in rows for b in r[key]], dtype=np.int64).reshape(-1, 2)
    for key in ("head_types", "tail_types", "pair_labels"):
        batch[key] = np.array([v for r in rows for v in r[key]], dtype=np.int64)
    if "token_type_ids" in rows[0]:
        batch["token_type_ids"] = pad_ids([r["token_type_ids"] for r in rows], 0, multiple)[0]
    if "allowed_classes" in rows[0]:
        allowed = [m for r in rows for m in r["allowed_classes"]]
        batch["allowed_classes"] = np.array(allowed, dtype=bool) if allowed else np.zeros((0, 0), dtype=bool)
    return batch


ARCHITECTURE = "SharedEncoderPairHead"  # config.json "architectures" of such a run's RE checkpoint
HEAD_CONFIG_KEYS = ("hidden_size", "type_dim", "entity_labels")  # besides id2label, in its config.json
