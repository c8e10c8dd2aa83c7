"""Entities of a document as spans of its words: what the token-based formats (CoNLL BIO, spaCy) hold."""

from __future__ import annotations

from ie.data.documents import Document
from ie.data.problems import AnnotationError
from ie.data.text import Sentence, SpanLocator, WordSpan, split_sentences


def document_sentences(doc: Document, segmenter: str) -> list[Sentence]:
    """The document's own words where its format gave them, else the segmenter's."""
    return list(doc.sentences) if doc.sentences is not None else split_sentences(doc.text, segmenter)


def entity_word_spans(doc: Document, sentences: list[Sentence], fmt: str) -> list[tuple[WordSpan, str]]:
    """Each entity's word span and label; an entity that is not whole words of one sentence cannot be
    written in a token format, and is an error naming it."""
    locator = SpanLocator(sentences)
    spans = []
    for ent in doc.entities:
        located = locator.locate(ent.start, ent.end)
        if isinstance(located, str):
            raise AnnotationError(
                doc.source or doc.id, None, f"entity {ent.id} {ent.text!r} cannot be written as {fmt} tokens: {located}"
            )
        spans.append((located, ent.label))
    return spans
