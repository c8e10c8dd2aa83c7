"""Span-based NER (SpERT-style): every word span of up to ``max_span_words`` words is classified as an
entity type or none, from its first and last subwords, the max over its subwords and an embedding of
its width (Eberts & Ulges 2020). A name is scored whole, so its boundaries are one decision rather than
a tag per word; ``model.ner_head=span`` chooses it over token classification.
"""

from __future__ import annotations

from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from ie.models.span_representation import WIDTH_DIM, span_vectors


class SpanNerModel(PreTrainedModel):
    """Encoder over a sentence's window; each candidate span (``span_rows``, ``span_bounds``,
    ``span_widths``, flattened over the batch) gets logits over ``O`` and the entity types."""

    config_class = AutoConfig
    base_model_prefix = "encoder"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_attention_backend = True

    def __init__(self, config, encoder: PreTrainedModel | None = None):
        super().__init__(config)
        self.encoder = encoder if encoder is not None else AutoModel.from_config(config)
        dropout = getattr(config, "classifier_dropout", None)
        self.dropout = nn.Dropout(getattr(config, "hidden_dropout_prob", 0.1) if dropout is None else dropout)
        self.width_embeddings = nn.Embedding(config.max_span_words + 1, WIDTH_DIM)
        self.classifier = nn.Linear(3 * config.hidden_size + WIDTH_DIM, config.num_labels)
        self.post_init()

    def _init_weights(self, module):
        if module is getattr(self, "classifier", None) or module is getattr(self, "width_embeddings", None):
            module.weight.data.normal_(0.0, getattr(self.config, "initializer_range", 0.02))
            if getattr(module, "bias", None) is not None:
                module.bias.data.zero_()

    @classmethod
    def from_pretrained(cls, path, *args, **kwargs):
        kwargs.setdefault("config", AutoConfig.from_pretrained(path))
        return super().from_pretrained(path, *args, **kwargs)

    def get_input_embeddings(self):
        return self.encoder.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.encoder.set_input_embeddings(value)

    def forward(self, input_ids=None, attention_mask=None, span_rows=None, span_bounds=None, span_widths=None,
                labels=None, token_type_ids=None, **_):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state
        logits = self.classifier(self.dropout(span_vectors(hidden, span_rows, span_bounds, span_widths,
                                                           self.width_embeddings)))
        loss = nn.functional.cross_entropy(logits.float(), labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)
