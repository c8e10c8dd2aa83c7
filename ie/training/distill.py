"""Knowledge distillation (``trainer.distill.teacher=RUN``): a model, typically a smaller encoder
(``+model.config_overrides.num_hidden_layers=4``), learns each task from the gold labels and from the soft outputs
of RUN's model for that task, read on the same batch (Hinton et al. 2015; DistilBERT's soft-target loss).

The loss of a batch is ``(1 - alpha) * gold + alpha * T^2 * KL(teacher_T || student_T)``, the two distributions
softened by the temperature T. The KL runs over what the gold loss scores: the labelled words of the NER windows,
every candidate pair of RE, each pair over the classes its own loss normalises over (``allowed_classes``, so a
student trained with ``trainer.re.loss_classes=schema`` learns no class its pair can never take).

The teacher reads the student's very features: same tokenizer and marker tokens, same word-shape token types,
same labels. Anything else would teach the wrong ids, so it fails before training with one line naming it.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import torch
from torch import nn

from ie.errors import ConfigError
from ie.inference.loading import load_model
from ie.models.checkpoint import read_checkpoint_info, read_json
from ie.models.span_representation import ARCHITECTURE as SPAN_ARCHITECTURE
from ie.training.window_trainer import WindowTrainer

log = logging.getLogger(__name__)


def _labels(config) -> list[str]:
    return [config.id2label[i] for i in range(config.num_labels)]


def load_teacher(run: str | Path, task: str, student: nn.Module) -> nn.Module:
    """``run/task`` in eval mode, frozen, checked to read the student's inputs and emit its classes."""
    where = f"trainer.distill.teacher={run} ({task})"
    path = Path(run) / task
    if not path.is_dir():
        raise ConfigError(f"{where}: no {task}/ checkpoint in that run folder")
    info = read_checkpoint_info(path, task)
    if info.extra.get("shares_encoder_with") or read_json(path / "config.json").get("architectures") == [
        SPAN_ARCHITECTURE
    ]:
        raise ConfigError(f"{where}: only a token-classification NER or a marker RE checkpoint can teach")
    teacher = load_model(path, task, torch.float32, "transformers")
    ours, theirs = student.config, teacher.config
    checks = {
        "labels": (_labels(theirs), _labels(ours)),
        "vocabulary size": (
            teacher.get_input_embeddings().num_embeddings,
            student.get_input_embeddings().num_embeddings,
        ),
        "token types (model.word_shapes)": (theirs.type_vocab_size, ours.type_vocab_size),
        "pair representation": (
            getattr(theirs, "pair_representation", None),
            getattr(ours, "pair_representation", None),
        ),
    }
    for what, (t, s) in checks.items():
        if t != s:
            raise ConfigError(f"{where}: the teacher's {what} ({t}) differ from the student's ({s})")
    log.info(
        "%s: distilling from %s (%d layers) into %d layers",
        task.upper(),
        path,
        theirs.num_hidden_layers,
        ours.num_hidden_layers,
    )
    return teacher.eval().requires_grad_(False)


def soft_target_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    temperature: float,
    keep: torch.Tensor | None = None,
    allowed: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean over the rows in ``keep`` of ``T^2 * KL(softmax(teacher/T) || softmax(student/T))``, each row over its
    ``allowed`` classes (all when None). The ``T^2`` keeps the gradient's scale as T changes (Hinton et al.)."""
    student, teacher = student.float() / temperature, teacher.float() / temperature
    if allowed is not None:
        student = student.masked_fill(~allowed, float("-inf"))
        teacher = teacher.masked_fill(~allowed, float("-inf"))
    if keep is not None:
        student, teacher = student[keep], teacher[keep]
    if student.shape[0] == 0:
        return student.sum() * 0.0
    log_p = torch.log_softmax(teacher, -1)
    log_q = torch.log_softmax(student, -1)
    # classes ruled out carry p = 0: their terms are 0, never 0 * (-inf)
    terms = torch.where(torch.isfinite(log_p), log_p.exp() * (log_p - log_q), torch.zeros_like(log_p))
    return terms.sum(-1).mean() * temperature**2


class DistillingTrainer(WindowTrainer):
    """The Trainer whose training loss mixes the gold loss with the teacher's soft targets; evaluation, and so
    the epoch that dev selects, score the student alone as usual."""

    def __init__(self, *args, teacher: nn.Module, alpha: float, temperature: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.teacher, self.alpha, self.temperature = teacher, alpha, temperature

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        if not model.training:
            return (outputs.loss, outputs) if return_outputs else outputs.loss
        teacher = self.teacher.to(outputs.logits.device)
        with torch.no_grad():
            taught = teacher(**inputs).logits
        labels = inputs["labels"]
        keep = None if "pair_rows" in inputs else labels != -100  # NER: the labelled first subword of each word
        soft = soft_target_loss(outputs.logits, taught, self.temperature, keep, inputs.get("allowed_classes"))
        loss = (1 - self.alpha) * outputs.loss + self.alpha * soft
        return (loss, outputs) if return_outputs else loss


def distilling(cfg, task: str, student: nn.Module):
    """The trainer class for ``task``: the usual one, or with ``trainer.distill.teacher`` set, a distilling one
    bound to that run's ``task`` model."""
    settings = cfg.trainer.distill
    if not settings.teacher:
        return None
    if not 0.0 <= settings.alpha <= 1.0:
        raise ConfigError(f"trainer.distill.alpha must be in [0, 1], got {settings.alpha}")
    if settings.temperature <= 0:
        raise ConfigError(f"trainer.distill.temperature must be positive, got {settings.temperature}")
    if cfg.model.ner_head != "token" or cfg.model.shared_encoder != "none":
        raise ConfigError(
            "trainer.distill needs model.ner_head=token and model.shared_encoder=none, got "
            f"{cfg.model.ner_head} and {cfg.model.shared_encoder}"
        )
    return partial(
        DistillingTrainer,
        teacher=load_teacher(settings.teacher, task, student),
        alpha=settings.alpha,
        temperature=settings.temperature,
    )
