"""Training rows from the datasets: encoder windows with first-subword labels (NER), or with every
candidate span and its label (span NER), and marked windows with every candidate pair and its label (RE).
The same windows the Predictor reads (:mod:`ie.encoding`)."""

from __future__ import annotations

import logging

from datasets import Dataset

from ie.data.schema import NO_RELATION
from ie.encoding.align import WordPieces, encode_windows, first_subword_labels, neighbour_context
from ie.encoding.markers import reachable_pairs
from ie.encoding.shapes import token_types
from ie.encoding.shapes import word_shapes as shapes_of
from ie.encoding.shared_pairs import sentence_pairs
from ie.encoding.spans import candidate_spans
from ie.errors import ConfigError

log = logging.getLogger(__name__)


def ner_features(
    ds: Dataset, tokenizer, max_length: int, stride: int, word_shapes: str | None = None, context: int = 0
) -> Dataset:
    """One row per encoder window; labels on first subwords only; with ``word_shapes`` (a scheme of
    :mod:`ie.encoding.shapes`), each position's word shape as its token type; with ``context``, up to
    that many subwords of the neighbouring sentences of the document around the sentence."""
    rows = {"input_ids": [], "labels": [], **({"token_type_ids": []} if word_shapes else {})}
    pieces = WordPieces.many(tokenizer, ds["words"])
    around = neighbour_context(pieces, ds["doc_id"], context)
    for words, tags, piece, (left, right) in zip(ds["words"], ds["ner_tags"], pieces, around):
        shapes = shapes_of(words, word_shapes) if word_shapes else None
        for window in encode_windows(tokenizer, words, max_length, stride, piece, left, right):
            rows["input_ids"].append(list(window.input_ids))
            rows["labels"].append(first_subword_labels(window, tags))
            if shapes is not None:
                rows["token_type_ids"].append(token_types(window.word_ids, shapes))
    rows["attention_mask"] = [[1] * len(ids) for ids in rows["input_ids"]]
    return Dataset.from_dict(rows)


def ner_span_features(
    ds: Dataset,
    tokenizer,
    max_length: int,
    stride: int,
    max_words: int,
    word_shapes: str | None = None,
    context: int = 0,
) -> Dataset:
    """One row per encoder window with its candidate spans (:func:`ie.encoding.spans.candidate_spans`):
    first and last subword, width in words, and label (the entity type's index + 1, 0 for none). An
    entity longer than ``max_words`` words is no candidate; how many is logged."""
    rows = {
        "input_ids": [],
        "span_bounds": [],
        "span_widths": [],
        "labels": [],
        **({"token_type_ids": []} if word_shapes else {}),
    }
    names = ds.features["entities"].feature["label"].names
    pieces = WordPieces.many(tokenizer, ds["words"])
    around = neighbour_context(pieces, ds["doc_id"], context)
    too_long = 0
    for words, entities, piece, (left, right) in zip(ds["words"], ds["entities"], pieces, around):
        gold = {(e["start"], e["end"]): e["label"] + 1 for e in entities}
        too_long += sum(end - start > max_words for start, end in gold)
        shapes = shapes_of(words, word_shapes) if word_shapes else None
        for window in encode_windows(tokenizer, words, max_length, stride, piece, left, right):
            spans = candidate_spans(window, max_words)
            rows["input_ids"].append(list(window.input_ids))
            rows["span_bounds"].append([[first, last] for *_, first, last in spans])
            rows["span_widths"].append([j - i for i, j, *_ in spans])
            rows["labels"].append([gold.get((i, j), 0) for i, j, *_ in spans])
            if shapes is not None:
                rows["token_type_ids"].append(token_types(window.word_ids, shapes))
    if too_long:
        log.warning(
            "%d entities of %s are longer than model.max_span_words=%d words: never candidates",
            too_long,
            ", ".join(names),
            max_words,
        )
    return Dataset.from_dict(rows)


LOSS_CLASSES = ("all", "schema")


def _check_loss_classes(loss_classes: str) -> None:
    if loss_classes not in LOSS_CLASSES:
        raise ConfigError(f"trainer.re.loss_classes: expected one of {', '.join(LOSS_CLASSES)}, got '{loss_classes}'")


def admitted_classes(schema, head: tuple, tail: tuple, gold: int) -> list[bool]:
    """Per relation class, whether the pair (word spans ``(start, end, label)``) can take it: the rule the
    Predictor decodes by, with the gold class always kept so the loss stays finite on any data."""
    admitted = schema.pair_classes(head, tail)
    return [label in admitted or c == gold for c, label in enumerate(schema.relation_labels)]


def re_features(
    ds: Dataset,
    tokenizer,
    max_length: int,
    schema,
    split: str = "",
    word_shapes: str | None = None,
    loss_classes: str = "all",
) -> Dataset:
    """One row per marked window (usually one per sentence) with all its candidate pairs and their
    labels; sentences without a candidate pair give none, and pairs that cannot fit are counted.
    ``loss_classes="schema"`` adds each pair's ``allowed_classes`` (the classes its loss normalises over)."""
    _check_loss_classes(loss_classes)
    ent_names = ds.features["entities"].feature["label"].names
    rel_names = ds.features["relations"].feature["label"].names
    no_relation = schema.relation_labels.index(NO_RELATION)
    rows = {
        "input_ids": [],
        "head_spans": [],
        "tail_spans": [],
        "labels": [],
        **({"token_type_ids": []} if word_shapes else {}),
        **({"allowed_classes": []} if loss_classes == "schema" else {}),
    }
    lost = 0
    for words, entities, relations in zip(ds["words"], ds["entities"], ds["relations"]):
        spans = [(e["start"], e["end"], ent_names[e["label"]]) for e in entities]
        sentence = reachable_pairs(tokenizer, words, spans, schema, max_length)
        if sentence is None:
            continue
        position = {k: i for i, k in enumerate(sentence.order)}
        gold = {
            (position[r["head"]], position[r["tail"]]): schema.relation_labels.index(rel_names[r["label"]])
            for r in relations
            if r["head"] in position and r["tail"] in position
        }
        lost += sentence.lost
        shapes = shapes_of(words, word_shapes) if word_shapes else None
        for window in sentence.windows(tokenizer, max_length):
            rows["input_ids"].append(list(window.input_ids))
            if shapes is not None:
                rows["token_type_ids"].append(token_types(window.word_ids, shapes))
            for key, value in window.pair_features().items():
                rows[key].append(value)
            rows["labels"].append([gold.get(pair, no_relation) for pair in window.pairs])
            if loss_classes == "schema":
                rows["allowed_classes"].append(
                    [
                        admitted_classes(schema, sentence.spans[h], sentence.spans[t], gold.get((h, t), no_relation))
                        for h, t in window.pairs
                    ]
                )
    if lost:
        log.warning("%s: %d relation candidate(s) longer than max_length=%d were left out", split, lost, max_length)
    return Dataset.from_dict(rows)


def joint_features(
    ds: Dataset,
    tokenizer,
    max_length: int,
    stride: int,
    schema,
    split: str = "",
    word_shapes: str | None = None,
    context: int = 0,
    loss_classes: str = "all",
    pairs_only: bool = False,
) -> Dataset:
    """For a shared encoder: the NER rows of :func:`ner_features`, each with the candidate pairs among its
    gold entities (:mod:`ie.encoding.shared_pairs`) and their labels; windows without pairs keep their
    NER labels unless ``pairs_only``. ``loss_classes="schema"`` adds each pair's ``allowed_classes``."""
    _check_loss_classes(loss_classes)
    ent_names = ds.features["entities"].feature["label"].names
    rel_names = ds.features["relations"].feature["label"].names
    no_relation = schema.relation_labels.index(NO_RELATION)
    keys = ["input_ids", "labels", "head_bounds", "tail_bounds", "head_types", "tail_types", "pair_labels"]
    rows = {
        key: []
        for key in keys
        + (["token_type_ids"] if word_shapes else [])
        + (["allowed_classes"] if loss_classes == "schema" else [])
    }
    pieces = WordPieces.many(tokenizer, ds["words"])
    around = neighbour_context(pieces, ds["doc_id"], context)
    lost = 0
    for words, tags, entities, relations, piece, (left, right) in zip(
        ds["words"], ds["ner_tags"], ds["entities"], ds["relations"], pieces, around
    ):
        spans = [(e["start"], e["end"], ent_names[e["label"]]) for e in entities]
        gold = {(r["head"], r["tail"]): schema.relation_labels.index(rel_names[r["label"]]) for r in relations}
        shapes = shapes_of(words, word_shapes) if word_shapes else None
        windows = encode_windows(tokenizer, words, max_length, stride, piece, left, right)
        per_window, missed = sentence_pairs(windows, spans, schema)
        lost += missed
        for window, found in zip(windows, per_window):
            if pairs_only and not found.pairs:
                continue
            rows["input_ids"].append(list(window.input_ids))
            rows["labels"].append(first_subword_labels(window, tags))
            for key, value in found.features(schema.entity_labels, spans).items():
                rows[key].append(value)
            rows["pair_labels"].append([gold.get(pair, no_relation) for pair in found.pairs])
            if shapes is not None:
                rows["token_type_ids"].append(token_types(window.word_ids, shapes))
            if loss_classes == "schema":
                rows["allowed_classes"].append(
                    [
                        admitted_classes(schema, spans[h], spans[t], gold.get((h, t), no_relation))
                        for h, t in found.pairs
                    ]
                )
    if lost:
        log.warning("%s: %d relation candidate(s) whose mentions share no NER window were left out", split, lost)
    rows["attention_mask"] = [[1] * len(ids) for ids in rows["input_ids"]]
    return Dataset.from_dict(rows)
