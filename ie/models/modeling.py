"""Model construction: token classification for NER; for RE, all candidate pairs of a marked sentence
classified from one encoder pass.

Both start from any encoder ``from_pretrained`` understands (a hub id or a folder) or, for tests and
sweeps over architecture, from a fresh config (``from_scratch``).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForTokenClassification, AutoTokenizer, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from ie.encoding import shapes
from ie.errors import ConfigError
from ie.models import pairs
from ie.models.span_ner import SpanNerModel
from ie.models.span_representation import ARCHITECTURE as SPAN_ARCHITECTURE


class MarkerRelationModel(PreTrainedModel):
    """Encoder over a sentence with every entity marked; each candidate pair is classified from the
    vector its pair representation reads off the encoded sentence (:mod:`ie.models.pairs`, named by
    the config's ``pair_representation``).

    ``pair_rows``, ``head_spans`` and ``tail_spans`` (``[open, close]`` marker positions) list the
    pairs of the whole batch, so one encoder pass scores all pairs of all its sentences.
    """

    config_class = AutoConfig  # any encoder config; the real class is read from config.json
    base_model_prefix = "encoder"
    supports_gradient_checkpointing = True
    # Attention runs inside the wrapped encoder, which brings its own implementation.
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_attention_backend = True

    def __init__(self, config, encoder: PreTrainedModel | None = None):
        super().__init__(config)
        self.encoder = encoder if encoder is not None else AutoModel.from_config(config)
        dropout = getattr(config, "classifier_dropout", None)
        if dropout is None:
            dropout = getattr(config, "hidden_dropout_prob", 0.1)
        self.dropout = nn.Dropout(dropout)
        self.pairs = pairs.of_config(config)
        self.classifier = nn.Linear(self.pairs.width(config.hidden_size), config.num_labels)
        self.class_weights: torch.Tensor | None = None  # of the training loss only (trainer.re.loss_weights)
        self.post_init()

    def _init_weights(self, module):
        if module is getattr(self, "classifier", None):
            module.weight.data.normal_(0.0, getattr(self.config, "initializer_range", 0.02))
            module.bias.data.zero_()

    @classmethod
    def from_pretrained(cls, path, *args, **kwargs):
        kwargs.setdefault("config", AutoConfig.from_pretrained(path))
        return super().from_pretrained(path, *args, **kwargs)

    def get_input_embeddings(self):
        return self.encoder.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.encoder.set_input_embeddings(value)

    def forward(self, input_ids=None, attention_mask=None, pair_rows=None, head_spans=None, tail_spans=None,
                labels=None, token_type_ids=None, allowed_classes=None, **_):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state
        pair = self.pairs.vectors(hidden, pair_rows, head_spans, tail_spans)
        logits = self.classifier(self.dropout(pair))
        weights = None if self.class_weights is None else self.class_weights.to(logits.device)
        loss = None
        if labels is not None:
            scores = logits.float()
            if allowed_classes is not None:  # trainer.re.loss_classes=schema: the softmax over a pair's own classes
                scores = scores.masked_fill(~allowed_classes, float("-inf"))
            loss = nn.functional.cross_entropy(scores, labels, weight=weights)
        return SequenceClassifierOutput(loss=loss, logits=logits)


@contextmanager
def _reading_encoder(model_cfg):
    """transformers' OSError for an id or folder it cannot load, as an error naming the config key."""
    try:
        yield
    except OSError as err:
        raise ConfigError(f"model.name_or_path={model_cfg.name_or_path}: cannot load it ({err})") from None


def load_tokenizer(model_cfg):
    with _reading_encoder(model_cfg):
        return AutoTokenizer.from_pretrained(model_cfg.name_or_path)


def _encoder_config(model_cfg, labels: list[str]):
    """The encoder's config with the head's labels and ``model.config_overrides`` applied."""
    with _reading_encoder(model_cfg):
        config = AutoConfig.from_pretrained(model_cfg.name_or_path, num_labels=len(labels),
                                            id2label=dict(enumerate(labels)),
                                            label2id={label: i for i, label in enumerate(labels)})
    for key, value in (model_cfg.config_overrides or {}).items():
        if not hasattr(config, key):
            raise ConfigError(f"model.config_overrides: '{key}' is not a field of {type(config).__name__}")
        setattr(config, key, value)
    return config


def enable_word_shapes(model: nn.Module, scheme: str) -> None:
    """Token type embeddings grown to one row per shape class of ``scheme`` (:mod:`ie.encoding.shapes`),
    every row a copy of the pretrained row 0, so training starts from the pretrained encoder exactly."""
    _, classes = shapes.scheme(scheme)
    encoder = model.base_model
    table = getattr(getattr(encoder, "embeddings", None), "token_type_embeddings", None)
    if table is None:
        raise ConfigError(f"model.word_shapes={scheme}: {type(encoder).__name__} has no token type embeddings "
                          "to carry word shapes")
    grown = nn.Embedding(classes, table.embedding_dim)
    with torch.no_grad():
        grown.weight.copy_(table.weight[:1].expand(classes, -1))
    encoder.embeddings.token_type_embeddings = grown
    model.config.type_vocab_size = encoder.config.type_vocab_size = classes


NER_HEADS = ("token", "span")


def check_ner_head(head: str) -> str:
    if head not in NER_HEADS:
        raise ConfigError(f"model.ner_head: expected one of {', '.join(NER_HEADS)}, got '{head}'")
    return head


def ner_labels(schema, head: str) -> list[str]:
    """The NER model's classes: BIO tags for token classification, ``O`` and the types for spans."""
    return schema.bio_tags if check_ner_head(head) == "token" else schema.span_labels


def build_ner_model(model_cfg, labels: list[str]):
    config = _encoder_config(model_cfg, labels)
    if model_cfg.get("ner_head", "token") == "span":
        model = _build_span_model(model_cfg, config)
    elif model_cfg.from_scratch:
        model = AutoModelForTokenClassification.from_config(config)
    else:
        model = AutoModelForTokenClassification.from_pretrained(model_cfg.name_or_path, config=config)
    if model_cfg.word_shapes:
        enable_word_shapes(model, model_cfg.word_shapes)
    return model


def _build_span_model(model_cfg, config) -> SpanNerModel:
    config.max_span_words = model_cfg.max_span_words  # saved in config.json with the model
    with _reading_encoder(model_cfg):
        encoder = (AutoModel.from_config(config) if model_cfg.from_scratch
                   else AutoModel.from_pretrained(model_cfg.name_or_path, config=config))
    model = SpanNerModel(config, encoder=encoder)
    model.config.architectures = [SPAN_ARCHITECTURE]
    return model


def build_re_model(model_cfg, labels: list[str], vocab_size: int) -> MarkerRelationModel:
    config = _encoder_config(model_cfg, labels)
    pairs.representation(model_cfg.pair_representation)  # an unknown name fails before any weight loads
    setattr(config, pairs.CONFIG_KEY, model_cfg.pair_representation)  # saved in config.json with the model
    if model_cfg.from_scratch:
        encoder = AutoModel.from_config(config)
    else:
        encoder = AutoModel.from_pretrained(model_cfg.name_or_path, config=config)
    model = MarkerRelationModel(config, encoder=encoder)
    model.config.architectures = [MarkerRelationModel.__name__]
    model.resize_token_embeddings(vocab_size)
    if model_cfg.word_shapes:
        enable_word_shapes(model, model_cfg.word_shapes)
    return model
