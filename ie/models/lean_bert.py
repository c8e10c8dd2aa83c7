"""BERT-family checkpoints run for inference without the transformers modeling stack.

The Predictor uses this for checkpoints whose encoder it supports (``model_type: bert`` with absolute
positions, as all-MiniLM-L6-v2 is) and falls back to ``transformers`` for anything else. It reads the
same ``config.json`` and ``model.safetensors`` that ``save_pretrained`` wrote. Why not just transformers:

* memory: importing ``transformers.modeling_utils`` costs ~150 MB of resident memory (it pulls in
  torch._dynamo, sympy, scipy and torch.distributed.tensor), a quarter of a small service's budget;
* loading: weights are read one tensor at a time straight into the serving dtype, with no second
  full copy of the model in fp32;
* speed: one fused Q/K/V projection per layer and no per-module hooks or output bookkeeping;
* padding: only attention sees the padded batch; the linear layers run on the real tokens, with row
  counts from a small fixed set (:func:`bucket`), which also bounds oneDNN's per-shape kernel memory.

The forward is the textbook post-LayerNorm BERT; ``tests/test_lean_bert.py`` checks it against
``transformers`` on random weights, padded batches and both heads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ie.models import pairs
from ie.models.checkpoint import WEIGHTS_FILE, CheckpointError, read_json, reading_weights
from ie.models.span_representation import ARCHITECTURE as SPAN_ARCHITECTURE, span_vectors

ACTIVATIONS = {"gelu": F.gelu, "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"), "relu": F.relu}
# The classes save_pretrained records for our heads, and where each keeps its encoder's weights.
HEADS = {"BertForTokenClassification": "bert.", "MarkerRelationModel": "encoder.", SPAN_ARCHITECTURE: "encoder."}
IGNORED = ("pooler.",)  # weights of the encoder that no head here reads


class Unsupported(Exception):
    """The checkpoint needs the transformers implementation; the message says why."""


class Output(NamedTuple):
    logits: torch.Tensor
    hidden: torch.Tensor | None = None  # the last hidden states, when asked for (a shared-encoder RE head reads them)


@dataclass(frozen=True)
class LeanConfig:
    """The fields of ``config.json`` the forward reads, under their transformers names."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float
    hidden_act: str
    id2label: dict[int, str] = field(default_factory=dict)
    pair_representation: str | None = None  # RE heads: see ie.models.pairs

    @property
    def num_labels(self) -> int:
        return len(self.id2label)


def read_config(path: Path) -> tuple[LeanConfig, str]:
    """The config of a checkpoint folder and its head's class name (a key of :data:`HEADS`), or
    :class:`Unsupported`."""
    raw = read_json(path / "config.json")
    heads = raw.get("architectures") or []
    reasons = []
    if raw.get("model_type") != "bert":
        reasons.append(f"model_type {raw.get('model_type')!r} (only 'bert')")
    if raw.get("position_embedding_type", "absolute") != "absolute":
        reasons.append(f"position_embedding_type {raw.get('position_embedding_type')!r}")
    if raw.get("is_decoder") or raw.get("add_cross_attention"):
        reasons.append("a decoder")
    if raw.get("hidden_act") not in ACTIVATIONS:
        reasons.append(f"hidden_act {raw.get('hidden_act')!r}")
    if len(heads) != 1 or heads[0] not in HEADS:
        reasons.append(f"architectures {heads}")
    if reasons:
        raise Unsupported(f"{path}: " + ", ".join(reasons))
    optional = ("id2label", pairs.CONFIG_KEY)
    fields = {name: raw[name] for name in LeanConfig.__dataclass_fields__ if name not in optional}
    id2label = {int(k): v for k, v in raw.get("id2label", {}).items()}
    return LeanConfig(**fields, id2label=id2label, pair_representation=raw.get(pairs.CONFIG_KEY)), heads[0]


def _fixed(tensor: torch.Tensor) -> nn.Parameter:
    return nn.Parameter(tensor, requires_grad=False)


# Built from loaded tensors: torch's own layers would first initialise random weights (and, on the
# meta device, import torch._dynamo), costing the time and memory this module exists to save.
class _Affine(nn.Module):
    def __init__(self, weight: torch.Tensor, bias: torch.Tensor):
        super().__init__()
        self.weight, self.bias = _fixed(weight), _fixed(bias)


class _Linear(_Affine):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class _LayerNorm(_Affine):
    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, eps: float):
        super().__init__(weight, bias)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


class _Embedding(nn.Module):
    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.weight = _fixed(weight)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weight)


def _encoder_names(layers: int) -> dict[str, str]:
    """transformers' weight names -> ours, without the head's prefix. Q, K and V are fused into
    ``qkv`` by the loader and are not listed here."""
    names = {"embeddings.word_embeddings": "word_embeddings", "embeddings.position_embeddings": "position_embeddings",
             "embeddings.token_type_embeddings": "token_type_embeddings", "embeddings.LayerNorm": "embedding_norm"}
    for k in range(layers):
        for theirs, ours in (("attention.output.dense", "attention_out"), ("attention.output.LayerNorm",
                             "attention_norm"), ("intermediate.dense", "intermediate"), ("output.dense", "output"),
                             ("output.LayerNorm", "output_norm")):
            names[f"encoder.layer.{k}.{theirs}"] = f"{ours}.{k}"
    return {f"{theirs}.{p}": f"{ours}.{p}" for theirs, ours in names.items() for p in ("weight", "bias")
            if not (p == "bias" and theirs.endswith("_embeddings"))}


class LeanBert(nn.Module):
    """Embeddings and post-LayerNorm transformer layers; ``forward`` gives the last hidden states.
    ``w`` holds every weight under the names of :func:`_encoder_names` plus ``qkv.<layer>.*``."""

    def __init__(self, config: LeanConfig, w: dict[str, torch.Tensor]):
        super().__init__()
        eps, n = config.layer_norm_eps, config.num_hidden_layers
        self.config = config
        self.heads = config.num_attention_heads
        self.act = ACTIVATIONS[config.hidden_act]
        self.word_embeddings = _Embedding(w["word_embeddings.weight"])
        self.position_embeddings = _Embedding(w["position_embeddings.weight"])
        self.token_type_embeddings = _Embedding(w["token_type_embeddings.weight"])
        self.embedding_norm = _LayerNorm(w["embedding_norm.weight"], w["embedding_norm.bias"], eps)

        def layers(name, kind=_Linear, *extra):
            return nn.ModuleList(kind(w[f"{name}.{k}.weight"], w[f"{name}.{k}.bias"], *extra) for k in range(n))
        self.qkv, self.attention_out, self.intermediate, self.output = map(
            layers, ("qkv", "attention_out", "intermediate", "output"))
        self.attention_norm = layers("attention_norm", _LayerNorm, eps)
        self.output_norm = layers("output_norm", _LayerNorm, eps)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden states ``[batch, length, hidden]`` in fp32; positions the mask leaves out hold zeros."""
        rows, x = self.packed(input_ids, attention_mask, token_type_ids)
        return unpack(x, rows, input_ids.shape)

    def packed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
               token_type_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(rows, hidden)``: the flat index (``b * length + t``) of every real token, and the hidden
        states of those tokens in that order, followed by filler rows up to :func:`bucket` rows.

        Only attention sees the padded ``[batch, length]`` grid; every other op runs on the real tokens,
        so padding costs no matmul, and the matmuls see a few row counts instead of each batch's own.

        With bf16 weights, as under autocast, the matmuls, attention and GELU run in bf16 while the
        residual stream and LayerNorms stay fp32: pure bf16 would round every residual sum, and flip
        more predictions."""
        batch, length = input_ids.shape
        low = self.qkv[0].weight.dtype
        if attention_mask is None:
            rows = torch.arange(batch * length, device=input_ids.device)
        else:
            rows = attention_mask.reshape(-1).nonzero().squeeze(1)
        real = len(rows)
        # filler rows re-read token 0: computed like any row, never scattered back
        gather = F.pad(rows, (0, bucket(real) - real))
        # the order of the sums is transformers' own (word + token type, then position): same rounding
        types = (self.token_type_embeddings.weight[0] if token_type_ids is None
                 else self.token_type_embeddings(token_type_ids.reshape(-1)[gather]))
        x = self.word_embeddings(input_ids.reshape(-1)[gather]).float() + types.float()
        x = self.embedding_norm(x + self.position_embeddings(gather % length).float())
        mask = None if attention_mask is None else attention_mask.bool()[:, None, None, :]
        for k in range(len(self.qkv)):
            qkv = self.qkv[k](x.to(low))
            grid = qkv.new_zeros(batch * length, qkv.shape[1]).index_copy_(0, rows, qkv[:real])
            del qkv  # one copy of the layer's largest activation at a time
            q, key, v = grid.view(batch, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
            context = F.scaled_dot_product_attention(q, key, v, attn_mask=mask)
            context = context.transpose(1, 2).reshape(batch * length, -1).index_select(0, gather)
            x = self.attention_norm[k](self.attention_out[k](context).float() + x)
            x = self.output_norm[k](self.output[k](self.act(self.intermediate[k](x.to(low)))).float() + x)
        return rows, x


def bucket(rows: int) -> int:
    """``rows`` rounded up to a power of two up to 256, then to one of four sizes per octave (320, 384,
    448, 512, 640, ...; at most 25% more). oneDNN compiles and keeps kernels for every matmul shape it
    meets: fed each batch's own row count, a process kept growing (1,362 MiB after 300 random batch
    shapes, against 384 MiB bucketed: ``benchmarks/memory_shapes.py``). Small batches are cheap whatever
    their padding, so they get the coarsest buckets."""
    if rows <= 256:
        return max(16, 1 << (rows - 1).bit_length())
    step = 1 << (rows.bit_length() - 3)
    return -(-rows // step) * step


def unpack(x: torch.Tensor, rows: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Packed rows (see :meth:`LeanBert.packed`) back on the ``[batch, length]`` grid, zeros elsewhere."""
    grid = x.new_zeros(shape[0] * shape[1], x.shape[-1]).index_copy_(0, rows, x[:len(rows)])
    return grid.view(*shape, -1)


class LeanTokenClassifier(nn.Module):
    """``BertForTokenClassification`` for inference: per-token label logits."""

    def __init__(self, config: LeanConfig, w: dict[str, torch.Tensor]):
        super().__init__()
        self.config = config
        self.encoder = LeanBert(config, w)
        self.classifier = _Linear(w["classifier.weight"], w["classifier.bias"])

    def get_input_embeddings(self) -> nn.Module:
        return self.encoder.word_embeddings

    def set_precision(self, dtype: torch.dtype) -> "LeanTokenClassifier":
        """Matmul and embedding weights in ``dtype``; LayerNorms stay fp32 (see ``LeanBert.forward``)."""
        for module in self.modules():
            if isinstance(module, (_Linear, _Embedding)):
                for name, param in module.named_parameters(recurse=False):
                    setattr(module, name, _fixed(param.data.to(dtype)))
        return self

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, with_hidden: bool = False) -> Output:
        """Logits ``[batch, length, labels]``; zeros where the mask leaves a position out. ``with_hidden``:
        the last hidden states too, on the same grid."""
        rows, hidden = self.encoder.packed(input_ids, attention_mask, token_type_ids)
        logits = unpack(self.classifier(hidden.to(self.classifier.weight.dtype)), rows, input_ids.shape)
        return Output(logits, unpack(hidden, rows, input_ids.shape) if with_hidden else None)


class LeanPairClassifier(LeanTokenClassifier):
    """:class:`ie.models.modeling.MarkerRelationModel` for inference: logits per candidate pair."""

    def __init__(self, config: LeanConfig, w: dict[str, torch.Tensor]):
        super().__init__(config, w)
        self.pairs = pairs.of_config(config)

    def forward(self, input_ids, attention_mask=None, pair_rows=None, head_spans=None, tail_spans=None,
                token_type_ids=None) -> Output:
        hidden = self.encoder(input_ids, attention_mask, token_type_ids).to(self.classifier.weight.dtype)
        vectors = self.pairs.vectors(hidden, pair_rows, head_spans, tail_spans)
        # bucketed like the encoder's rows (see bucket): the pair count differs from batch to batch
        return Output(self.classifier(F.pad(vectors, (0, 0, 0, bucket(len(vectors)) - len(vectors))))[:len(vectors)])


class LeanSpanClassifier(LeanTokenClassifier):
    """:class:`ie.models.span_ner.SpanNerModel` for inference: logits per candidate span."""

    def __init__(self, config: LeanConfig, w: dict[str, torch.Tensor]):
        super().__init__(config, w)
        self.width_embeddings = _Embedding(w["width_embeddings.weight"])

    def forward(self, input_ids, attention_mask=None, span_rows=None, span_bounds=None, span_widths=None,
                token_type_ids=None) -> Output:
        hidden = self.encoder(input_ids, attention_mask, token_type_ids).to(self.classifier.weight.dtype)
        vectors = span_vectors(hidden, span_rows, span_bounds, span_widths, self.width_embeddings)
        # bucketed like the encoder's rows (see bucket): the span count differs from batch to batch
        return Output(self.classifier(F.pad(vectors, (0, 0, 0, bucket(len(vectors)) - len(vectors))))[:len(vectors)])


LEAN_CLASSES = {"BertForTokenClassification": LeanTokenClassifier, "MarkerRelationModel": LeanPairClassifier,
                SPAN_ARCHITECTURE: LeanSpanClassifier}
HEAD_WEIGHTS = {SPAN_ARCHITECTURE: ("width_embeddings.weight",)}  # beyond encoder and classifier


def load(path: str | Path, dtype: torch.dtype = torch.float32) -> LeanTokenClassifier:
    """A checkpoint folder as a lean model in ``dtype``; :class:`Unsupported` if it needs transformers.
    Every weight the forward reads must be in the file (a missing one is an error naming it)."""
    from safetensors import safe_open

    path = Path(path)
    config, head = read_config(path)
    prefix, layers = HEADS[head], config.num_hidden_layers
    wanted = {prefix + theirs: ours for theirs, ours in _encoder_names(layers).items()}
    wanted.update({name: name for name in ("classifier.weight", "classifier.bias", *HEAD_WEIGHTS.get(head, ()))})
    attention = {f"{prefix}encoder.layer.{k}.attention.self.{m}.{p}": (k, p)
                 for k in range(layers) for m in ("query", "key", "value") for p in ("weight", "bias")}
    w, parts = {}, {}
    with reading_weights(path / WEIGHTS_FILE), safe_open(str(path / WEIGHTS_FILE), framework="pt") as weights:
        names = set(weights.keys())
        for name in sorted(names):
            # one tensor at a time, converted as it is read: no full fp32 copy of the model at any point
            if name in wanted:
                # LayerNorms stay fp32 (see LeanBert.forward); they are 0.1% of the weights. A tensor kept
                # as read is a view of the file's memory map: copied when the rest is converted, else that
                # one small tensor would keep the whole mapped file resident.
                keep = torch.float32 if "norm" in wanted[name] else dtype
                w[wanted[name]] = weights.get_tensor(name).to(keep, copy=keep != dtype)
            elif name in attention:
                parts[name] = weights.get_tensor(name).to(dtype)
            elif not name.startswith(tuple(prefix + ignored for ignored in IGNORED)):
                raise CheckpointError(f"{path}: unexpected weight {name!r} for a {prefix[:-1]} encoder")
    missing = sorted((set(wanted) | set(attention)) - names)
    if missing:
        raise CheckpointError(f"{path}: missing weight {missing[0]!r}")
    for k in range(layers):
        for p in ("weight", "bias"):  # query, key, value in that order, as one projection
            w[f"qkv.{k}.{p}"] = torch.cat([parts.pop(f"{prefix}encoder.layer.{k}.attention.self.{m}.{p}")
                                           for m in ("query", "key", "value")])
    return LEAN_CLASSES[head](config, w).eval()
