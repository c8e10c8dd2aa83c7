"""Evaluation keeps every candidate: RE pairs (and span NER spans) are flattened over a batch, and the
evaluation loop cuts its last batch to the number of windows left over; regrouped per window, no pair of
the dev split is lost to the score that picks the best epoch."""

from types import SimpleNamespace

import numpy as np
import torch
from datasets import Dataset
from torch import nn
from transformers import TrainingArguments
from transformers.modeling_outputs import SequenceClassifierOutput

from ie.training.collators import WindowCollator
from ie.training.dev_metrics import candidate_dev_metrics
from ie.training.window_trainer import WindowTrainer, per_window


def test_per_window_puts_each_candidate_in_its_window_in_order():
    values = torch.tensor([10, 11, 12, 20, 30, 31])
    rows = torch.tensor([0, 0, 0, 1, 3, 3])
    assert per_window(values, rows, 4, -100).tolist() == [[10, 11, 12], [20, -100, -100], [-100] * 3, [30, 31, -100]]


class PairEcho(nn.Module):
    """Scores each pair's own gold class highest: any pair the loop loses shows as a miss."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(
        self, input_ids=None, attention_mask=None, pair_rows=None, head_spans=None, tail_spans=None, labels=None, **_
    ):
        logits = nn.functional.one_hot(labels, 3).float() + self.weight
        return SequenceClassifierOutput(loss=logits.sum() * 0, logits=logits)


def test_evaluation_scores_every_pair_of_the_last_batch(tmp_path):
    # five windows with 3, 1, 4, 2 and 5 pairs; batches of two windows leave one window in the last batch
    counts = [3, 1, 4, 2, 5]
    rows = [
        {
            "input_ids": [1, 5, 6, 2],
            "head_spans": [[1, 2]] * n,
            "tail_spans": [[2, 3]] * n,
            "labels": [(i + k) % 3 for k in range(n)],
        }
        for i, n in enumerate(counts)
    ]
    args = TrainingArguments(output_dir=str(tmp_path), per_device_eval_batch_size=2, report_to=[], use_cpu=True)
    tokenizer = SimpleNamespace(pad_token_id=0)
    trainer = WindowTrainer(
        model=PairEcho(),
        args=args,
        data_collator=WindowCollator(tokenizer),
        compute_metrics=candidate_dev_metrics(["none", "a", "b"]),
    )
    metrics = trainer.evaluate(Dataset.from_list(rows))
    gold = sum(1 for r in rows for label in r["labels"] if label)
    assert metrics["eval_recall"] == 1.0 and metrics["eval_precision"] == 1.0
    output = trainer.predict(Dataset.from_list(rows))
    assert int(np.sum(output.label_ids != -100)) == sum(counts) and gold > 0


class RuledOut(PairEcho):
    """Scores class 2 highest for every pair, a class the pairs' types may rule out."""

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        pair_rows=None,
        head_spans=None,
        tail_spans=None,
        labels=None,
        allowed_classes=None,
        **_,
    ):
        out = super().forward(labels=labels)
        out.logits = out.logits + nn.functional.one_hot(torch.full_like(labels, 2), 3).float() * 5
        return out


def test_the_dev_score_decodes_over_the_classes_each_pair_admits(tmp_path):
    """As the Predictor decodes: a class the pair's types rule out is never predicted, however high its
    (untrained, with trainer.re.loss_classes=schema) score."""
    rows = [
        {
            "input_ids": [1, 5, 6, 2],
            "head_spans": [[1, 2]] * 2,
            "tail_spans": [[2, 3]] * 2,
            "labels": [1, 0],
            "allowed_classes": [[True, True, False], [True, True, False]],
        },
        {
            "input_ids": [1, 5, 2],
            "head_spans": [[1, 2]],
            "tail_spans": [[2, 3]],
            "labels": [2],
            "allowed_classes": [[True, False, True]],
        },
    ]
    args = TrainingArguments(output_dir=str(tmp_path), per_device_eval_batch_size=2, report_to=[], use_cpu=True)
    trainer = WindowTrainer(
        model=RuledOut(),
        args=args,
        data_collator=WindowCollator(SimpleNamespace(pad_token_id=0)),
        compute_metrics=candidate_dev_metrics(["none", "a", "b"]),
    )
    metrics = trainer.evaluate(Dataset.from_list(rows))
    assert (metrics["eval_precision"], metrics["eval_recall"]) == (1.0, 1.0)  # without the mask: 1 of 3 right
