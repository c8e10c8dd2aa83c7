"""One encoder for NER and relations (``model.shared_encoder=joint`` or ``frozen``): the relation head reads the NER
pass's hidden states, so a text costs one encoder pass instead of two.

A pair is read as SpERT reads it (Eberts & Ulges 2020): max-pooled subwords of the head mention, of the
tail mention and of the text between them, with an embedding of each mention's entity type, since no
typed markers carry the types into the encoder. ``joint``: NER and RE trained together, their losses
summed; ``frozen``: the head trained on a finished NER model's fixed encoder, which NER alone shaped.

The NER part is saved as a plain token classifier, so every NER backend runs it; the RE checkpoint holds
only the head (type embeddings and classifier), which the Predictor applies to the hidden states its NER
pass kept (:mod:`ie.inference.shared_head`).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn
from transformers.modeling_outputs import TokenClassifierOutput

from ie.encoding.shared_pairs import ARCHITECTURE
from ie.models.checkpoint import WEIGHTS_FILE
from ie.models.pooling import range_max

TYPE_DIM = 32  # width of an entity type embedding (SpERT's size embedding is 25)


def pair_vectors(hidden: torch.Tensor, pair_rows: torch.Tensor, head_bounds: torch.Tensor,
                 tail_bounds: torch.Tensor) -> torch.Tensor:
    """[max over the head's subwords; max over the tail's; max over the subwords between them (zeros when
    they touch)], from ``[first, last]`` subword bounds; ``pair_rows`` is each pair's batch row."""
    head = range_max(hidden, pair_rows, head_bounds[:, 0], head_bounds[:, 1] + 1)
    tail = range_max(hidden, pair_rows, tail_bounds[:, 0], tail_bounds[:, 1] + 1)
    head_first = head_bounds[:, 0] < tail_bounds[:, 0]
    start = torch.where(head_first, head_bounds[:, 1], tail_bounds[:, 1]) + 1
    end = torch.maximum(head_bounds[:, 0], tail_bounds[:, 0])
    return torch.cat([head, tail, range_max(hidden, pair_rows, start, end)], dim=-1)


class SharedPairHead(nn.Module):
    """Relation logits of pairs from the shared encoder's hidden states and their entity types."""

    def __init__(self, hidden_size: int, entity_labels: list[str], relation_labels: list[str],
                 dropout: float = 0.1, type_dim: int = TYPE_DIM):
        super().__init__()
        self.hidden_size, self.type_dim = hidden_size, type_dim
        self.entity_labels, self.relation_labels = list(entity_labels), list(relation_labels)
        self.type_embeddings = nn.Embedding(len(entity_labels), type_dim)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(3 * hidden_size + 2 * type_dim, len(relation_labels))
        nn.init.normal_(self.type_embeddings.weight, std=0.02)
        nn.init.normal_(self.classifier.weight, std=0.02)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, hidden, pair_rows, head_bounds, tail_bounds, head_types, tail_types) -> torch.Tensor:
        vectors = torch.cat([pair_vectors(hidden, pair_rows, head_bounds, tail_bounds),
                             self.type_embeddings(head_types), self.type_embeddings(tail_types)], dim=-1)
        return self.classifier(self.dropout(vectors))

    def config_dict(self) -> dict:
        return {"architectures": [ARCHITECTURE], "hidden_size": self.hidden_size, "type_dim": self.type_dim,
                "entity_labels": self.entity_labels, "id2label": dict(enumerate(self.relation_labels))}

    def save_pretrained(self, folder: str | Path) -> None:
        """``config.json`` and ``model.safetensors``, as ``save_pretrained`` lays a checkpoint out."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(self.config_dict(), indent=2) + "\n", encoding="utf-8")
        save_file({k: v.detach().float().contiguous() for k, v in self.state_dict().items()},
                  str(folder / WEIGHTS_FILE))


class JointModel(nn.Module):
    """A token classifier and a :class:`SharedPairHead` over its encoder, trained on one summed loss; or,
    ``frozen``, the head alone on the token classifier's fixed encoder, whose outputs are then the pairs'
    logits (the NER model runs in eval mode, without gradients)."""

    def __init__(self, ner: nn.Module, head: SharedPairHead, frozen: bool = False):
        super().__init__()
        self.ner, self.head, self.frozen = ner, head, frozen
        self.config = ner.config  # what the Trainer reads of a model
        self.class_weights: torch.Tensor | None = None  # of the relation loss (trainer.re.loss_weights)
        if frozen:
            ner.requires_grad_(False)

    def train(self, mode: bool = True) -> "JointModel":
        super().train(mode)
        if self.frozen:
            self.ner.eval()  # no dropout in a fixed encoder: the head learns the states the Predictor gives it
        return self

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, pair_rows=None,
                head_bounds=None, tail_bounds=None, head_types=None, tail_types=None, pair_labels=None,
                allowed_classes=None, **_) -> TokenClassifierOutput:
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            out = self.ner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                           labels=None if self.frozen else labels, output_hidden_states=True)
        loss = out.loss
        scores = self.head(out.hidden_states[-1], pair_rows, head_bounds, tail_bounds, head_types, tail_types)
        if pair_labels is not None and len(pair_labels):
            masked = scores.float()
            if allowed_classes is not None:  # trainer.re.loss_classes=schema, as MarkerRelationModel
                masked = masked.masked_fill(~allowed_classes, float("-inf"))
            weights = None if self.class_weights is None else self.class_weights.to(masked.device)
            relation_loss = nn.functional.cross_entropy(masked, pair_labels, weight=weights)
            loss = relation_loss if loss is None else loss + relation_loss
        return TokenClassifierOutput(loss=loss, logits=scores if self.frozen else out.logits)
