"""What the Trainer scores on the dev split after each epoch, to keep the best one
(``trainer.select_best``): NER strict micro F1 with the Predictor's decoding, RE micro F1 on gold entities,
span NER micro F1 over candidate spans."""

from __future__ import annotations

import torch

from ie.data.bio import OUTSIDE
from ie.encoding.align import IGNORE_INDEX
from ie.evaluation.metrics import ner_scores, relation_scores
from ie.inference.decoding import DEFAULT as DEFAULT_DECODING
from ie.inference.decoding import decode_many


def ner_dev_metrics(labels: list[str], decoding: str = DEFAULT_DECODING, counts=None):
    """Strict micro P/R/F1 of each window's first-subword tags, decoded as the Predictor will decode them
    (``counts``: the training data's tag transition counts, for ``viterbi_transitions``)."""

    def compute(pred) -> dict:
        gold_seqs, log_probs = [], []
        for logits, gold in zip(pred.predictions, pred.label_ids):
            keep = gold != IGNORE_INDEX
            gold_seqs.append([labels[i] for i in gold[keep]])
            log_probs.append(torch.from_numpy(logits[keep]).float().log_softmax(-1))
        pred_seqs = [[labels[i] for i in path] for path in decode_many(log_probs, labels, decoding, counts)]
        micro = ner_scores(gold_seqs, pred_seqs, sorted({t[2:] for t in labels if t != OUTSIDE}))["micro"]
        return {"precision": micro["precision"], "recall": micro["recall"], "f1": micro["f1"]}

    return compute


def candidate_dev_metrics(labels: list[str]):
    """Micro P/R/F1 over classified candidates (entity pairs for RE, word spans for span NER), label 0 being none:
    the argmax per candidate, as the Predictor takes it before any overlap resolution. RE scores arrive with
    the classes a pair's types rule out already masked (:class:`ie.training.window_trainer.WindowTrainer`)."""

    def compute(pred) -> dict:
        keep = pred.label_ids != IGNORE_INDEX  # candidates are grouped per window, padded with the ignore index
        best, gold_ids = pred.predictions[keep].argmax(-1), pred.label_ids[keep]
        gold = [(i, labels[g]) for i, g in enumerate(gold_ids) if g != 0]
        found = [(i, labels[p]) for i, p in enumerate(best) if p != 0]
        micro = relation_scores(gold, found, labels[1:])["micro"]
        return {"precision": micro["precision"], "recall": micro["recall"], "f1": micro["f1"]}

    return compute
