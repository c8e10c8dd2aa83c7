"""Knowledge distillation (trainer.distill.teacher): the soft-target loss, the trainer that mixes it with the gold
loss, and a student trained from a run's models."""

from __future__ import annotations

import json

import pytest
import torch

from ie.errors import ConfigError
from ie.inference.predictor import Predictor
from ie.training.distill import DistillingTrainer, soft_target_loss

from conftest import TINY, compose_config


def _reference_kl(student, teacher, temperature):
    """KL(teacher || student) per row by torch's own kl_div, averaged, times T^2."""
    log_q = torch.log_softmax(student / temperature, -1)
    p = torch.softmax(teacher / temperature, -1)
    return torch.nn.functional.kl_div(log_q, p, reduction="batchmean") * temperature**2


def test_soft_target_loss_is_the_tempered_kl_and_zero_when_the_student_matches():
    torch.manual_seed(0)
    student, teacher = torch.randn(6, 5), torch.randn(6, 5)
    for temperature in (1.0, 2.0, 4.0):
        assert soft_target_loss(student, teacher, temperature).item() == pytest.approx(
            _reference_kl(student, teacher, temperature).item(), rel=1e-5
        )
    assert soft_target_loss(teacher, teacher, 2.0).item() == pytest.approx(0.0, abs=1e-6)


def test_soft_target_loss_reads_only_kept_rows_and_each_rows_allowed_classes():
    torch.manual_seed(1)
    student = torch.randn(4, 5, requires_grad=True)
    teacher = torch.randn(4, 5)
    keep = torch.tensor([True, False, True, True])
    allowed = torch.tensor([[1, 1, 0, 0, 1]] * 4, dtype=torch.bool)
    loss = soft_target_loss(student, teacher, 2.0, keep=keep, allowed=allowed)
    columns = [0, 1, 4]
    expected = _reference_kl(student[keep][:, columns], teacher[keep][:, columns], 2.0)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()  # ruled-out classes and dropped rows get no gradient, and no NaN reaches the others
    assert torch.isfinite(student.grad).all()
    assert (student.grad[1] == 0).all() and (student.grad[:, [2, 3]] == 0).all()
    assert soft_target_loss(student, teacher, 2.0, keep=torch.zeros(4, dtype=torch.bool)).item() == 0.0


def _tiny_ner(layers: int):
    from transformers import BertConfig, BertForTokenClassification

    torch.manual_seed(layers)
    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=3,
        id2label={0: "O", 1: "B-X", 2: "I-X"},
        label2id={"O": 0, "B-X": 1, "I-X": 2},
    )
    return BertForTokenClassification(config)


def _batch():
    labels = torch.tensor([[-100, 0, 1, -100, 2, -100], [-100, 1, 0, -100, -100, -100]])
    return {
        "input_ids": torch.randint(1, 50, (2, 6)),
        "attention_mask": torch.ones(2, 6, dtype=torch.long),
        "labels": labels,
    }


def test_the_trainers_loss_mixes_gold_and_soft_targets_by_alpha(tmp_path):
    from transformers import TrainingArguments

    student, teacher = _tiny_ner(1), _tiny_ner(2).eval()
    batch = _batch()
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[])
    student.train()
    torch.manual_seed(3)
    gold = student(**batch).loss  # dropout is drawn per call: each loss below is read under the same seed
    with torch.no_grad():
        taught = teacher(**batch).logits
    torch.manual_seed(3)
    soft = soft_target_loss(student(**batch).logits, taught, 2.0, keep=batch["labels"] != -100)
    for alpha in (0.0, 0.3, 1.0):
        trainer = DistillingTrainer(model=student, args=args, teacher=teacher, alpha=alpha, temperature=2.0)
        torch.manual_seed(3)
        assert trainer.compute_loss(student, batch).item() == pytest.approx(
            ((1 - alpha) * gold + alpha * soft).item(), rel=1e-5
        )
    student.eval()  # evaluation scores the student alone
    assert trainer.compute_loss(student, batch).item() == pytest.approx(student(**batch).loss.item(), rel=1e-6)


def test_a_student_distilled_from_a_run_has_its_own_layers_and_predicts(tmp_path, run_dir):
    from ie.training.train import train

    out = tmp_path / "student"
    train(
        compose_config(
            "train",
            TINY
            + [
                f"trainer.distill.teacher={run_dir}",
                "trainer.distill.alpha=0.7",
                "model.config_overrides.num_hidden_layers=1",
                f"paths.output_dir={out}",
            ],
        )
    )
    for task in ("ner", "re"):
        assert json.loads((out / task / "config.json").read_text())["num_hidden_layers"] == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["ner"]["strict"]["micro"]["support"] > 0
    [prediction] = Predictor.from_pretrained(out).predict(["Vladimir Putin met Kassym-Jomart Tokayev in Astana."])
    assert isinstance(prediction.entities, list)


def test_a_teacher_that_reads_other_inputs_fails_before_training_in_one_line(tmp_path, run_dir):
    from ie.training.train import train

    def run(*overrides):
        train(compose_config("train", TINY + [*overrides, f"paths.output_dir={tmp_path / 'out'}"]))

    with pytest.raises(ConfigError, match=r"trainer.distill.teacher=.*\(ner\): no ner/ checkpoint"):
        run(f"trainer.distill.teacher={tmp_path}")
    with pytest.raises(ConfigError, match=r"teacher's token types \(model.word_shapes\) \(\d+\) differ"):
        run(f"trainer.distill.teacher={run_dir}", "model.word_shapes=case")
    with pytest.raises(ConfigError, match="alpha must be in"):
        run(f"trainer.distill.teacher={run_dir}", "trainer.distill.alpha=1.5")
    with pytest.raises(ConfigError, match="model.shared_encoder=none"):
        run(f"trainer.distill.teacher={run_dir}", "model.shared_encoder=joint")
