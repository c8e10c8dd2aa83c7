"""The relation head of a shared-encoder run (:mod:`ie.models.shared_pairs`) at inference: NumPy over the
hidden states the NER pass kept, so relations cost no encoder pass of their own."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ie.encoding.shared_pairs import ARCHITECTURE
from ie.models.checkpoint import WEIGHTS_FILE, CheckpointError, read_json, reading_weights


def is_shared_head(path: Path) -> bool:
    """Whether the checkpoint folder holds a shared-encoder relation head."""
    return (read_json(path / "config.json").get("architectures") or []) == [ARCHITECTURE]


class SharedHead:
    """Type embeddings and classifier of the head; ``config`` carries ``id2label`` and ``num_labels`` as a
    model's config does, for the checks that compare labels with the schema."""

    shares_encoder = True
    backend = "shared"

    def __init__(self, config: dict, weights: dict[str, np.ndarray]):
        labels = {int(k): v for k, v in config["id2label"].items()}
        self.config = SimpleNamespace(id2label=labels, num_labels=len(labels))
        self.entity_labels = list(config["entity_labels"])
        self.types = weights["type_embeddings.weight"]
        self.weight, self.bias = weights["classifier.weight"], weights["classifier.bias"]
        expected = 3 * int(config["hidden_size"]) + 2 * int(config["type_dim"])
        if self.weight.shape != (len(labels), expected) or self.types.shape[0] != len(self.entity_labels):
            raise CheckpointError(
                f"classifier {self.weight.shape} and type table {self.types.shape} do not fit "
                f"{len(labels)} labels, {len(self.entity_labels)} types, width {expected}"
            )

    def logits(
        self,
        hidden: np.ndarray,
        head_bounds: np.ndarray,
        tail_bounds: np.ndarray,
        head_types: np.ndarray,
        tail_types: np.ndarray,
    ) -> np.ndarray:
        """Logits of the pairs of one window (``hidden``: its positions x hidden size); bounds are each
        mention's first and last subword, as in training (:func:`ie.models.shared_pairs.pair_vectors`)."""
        width = hidden.shape[-1]
        vectors = np.zeros((len(head_bounds), 3 * width), dtype=np.float32)
        for k, ((h0, h1), (t0, t1)) in enumerate(zip(head_bounds.tolist(), tail_bounds.tolist())):
            vectors[k, :width] = hidden[h0 : h1 + 1].max(0)
            vectors[k, width : 2 * width] = hidden[t0 : t1 + 1].max(0)
            start, end = (h1 if h0 < t0 else t1) + 1, max(h0, t0)
            if end > start:
                vectors[k, 2 * width :] = hidden[start:end].max(0)
        vectors = np.concatenate([vectors, self.types[head_types], self.types[tail_types]], axis=-1)
        return vectors @ self.weight.T + self.bias


def load_head(path: Path) -> SharedHead:
    from safetensors.numpy import load_file

    config = read_json(path / "config.json")
    with reading_weights(path / WEIGHTS_FILE):
        weights = load_file(str(path / WEIGHTS_FILE))
    missing = sorted({"type_embeddings.weight", "classifier.weight", "classifier.bias"} - set(weights))
    if missing:
        raise CheckpointError(f"{path}: missing weight {missing[0]!r}")
    try:
        return SharedHead(config, weights)
    except KeyError as err:
        raise CheckpointError(f"{path / 'config.json'}: no {err.args[0]!r} (a shared-encoder head needs it)") from None
    except CheckpointError as err:
        raise CheckpointError(f"{path}: {err}") from None
