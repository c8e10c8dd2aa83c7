"""How much a corpus shares with reference articles: the longest run of words both contain, and the
entity strings both annotate.

An authored corpus must neither copy nor paraphrase the seed articles; a long shared word n-gram is the
trace copying leaves, and shared entity strings show which names the two have in common (expected for
real places and institutions, telling for people and events). Words are lower-cased runs of letters and
digits, read across sentence and line breaks, so punctuation and layout cannot hide a copy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ie.data.documents import Document

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


@dataclass(frozen=True)
class SharedNgram:
    words: tuple[str, ...]
    document: str  # where it occurs in the corpus
    reference: str  # and in the references

    @property
    def length(self) -> int:
        return len(self.words)


def _ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def _first_shared(corpus: Mapping[str, list[str]], references: Mapping[str, list[str]], n: int) -> SharedNgram | None:
    owners: dict[tuple[str, ...], str] = {}
    for ref_id, tokens in references.items():
        for gram in _ngrams(tokens, n):
            owners.setdefault(gram, ref_id)
    for doc_id, tokens in corpus.items():
        for i in range(len(tokens) - n + 1):
            gram = tuple(tokens[i : i + n])
            if gram in owners:
                return SharedNgram(gram, doc_id, owners[gram])
    return None


def longest_shared_ngram(corpus: Sequence[Document], references: Sequence[Document]) -> SharedNgram | None:
    """The longest word n-gram found in both a corpus document and a reference document (the first such
    in corpus order), or None when they share no word. A shared n-gram contains shared shorter ones,
    so the length is found by bisection."""
    corpus_words = {d.id: words(d.text) for d in corpus}
    reference_words = {d.id: words(d.text) for d in references}
    best, low, high = None, 1, max((len(t) for t in reference_words.values()), default=0)
    while low <= high:
        middle = (low + high) // 2
        found = _first_shared(corpus_words, reference_words, middle)
        if found:
            best, low = found, middle + 1
        else:
            high = middle - 1
    return best


def shared_entity_strings(corpus: Sequence[Document], references: Sequence[Document]) -> dict[str, list[str]]:
    """Per reference document, its annotated entity strings ("LABEL text") that the corpus also annotates
    with the same label (case-insensitive), sorted."""
    in_corpus = {(e.label, e.text.lower()) for d in corpus for e in d.entities}
    return {
        ref.id: sorted({f"{e.label} {e.text}" for e in ref.entities if (e.label, e.text.lower()) in in_corpus})
        for ref in references
    }
