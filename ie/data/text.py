"""Sentences and words with character offsets, and character spans mapped onto words.

spaCy's rule-based English tokenizer and sentencizer do the work (no model download). Line breaks
are treated as hard sentence boundaries first: in news text a headline, dateline or byline rarely
ends with punctuation, and letting it run into the next paragraph would create cross-paragraph
"sentences" that no annotator meant.

Segmenters, by name (``data.segmenter``, stored in every checkpoint so the Predictor reads text into the
words its model was trained on): ``spacy`` is spaCy's English rules as they are, which cut a hyphenated
word into three ("Issyk-Kul" -> "Issyk", "-", "Kul"), so a tagger can read one name as two;
``spacy_keep_hyphens`` keeps a word with a hyphen between letters or digits whole ("Issyk-Kul",
"Russian-Kazakhstan", "co-chairman", "5-year"). An annotation boundary inside such a word is then not at
a word boundary, which validation reports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from ie.errors import ConfigError

SEGMENTERS = ("spacy", "spacy_keep_hyphens")
DEFAULT_SEGMENTER = "spacy"


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    tokens: tuple[Token, ...]


_LINE = re.compile(r"[^\r\n]+")


def check_segmenter(segmenter: str) -> str:
    if segmenter not in SEGMENTERS:
        raise ConfigError(f"data.segmenter: unknown segmenter '{segmenter}' (known: {', '.join(SEGMENTERS)})")
    return segmenter


@lru_cache(maxsize=len(SEGMENTERS))
def _nlp(segmenter: str):
    from ie.data.spacy_runtime import import_spacy

    spacy = import_spacy()
    from spacy.lang.char_classes import ALPHA, HYPHENS
    from spacy.util import compile_infix_regex

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    # A 1 MB article is a legitimate input; spaCy's default guard (1,000,000 chars) is for memory of
    # parsers we do not run.
    nlp.max_length = 10**8
    if segmenter == "spacy_keep_hyphens":
        hyphen = rf"(?<=[{ALPHA}0-9])(?:{HYPHENS})(?=[{ALPHA}])"  # spaCy's rule, as it writes it
        if hyphen not in nlp.Defaults.infixes:
            raise RuntimeError("spaCy's English infix rules changed: the hyphen rule to drop is not among them")
        nlp.tokenizer.infix_finditer = compile_infix_regex([p for p in nlp.Defaults.infixes if p != hyphen]).finditer
    return nlp


def split_sentences(text: str, segmenter: str = DEFAULT_SEGMENTER) -> list[Sentence]:
    """Sentences of ``text`` with their word tokens; offsets index into ``text`` unchanged."""
    nlp = _nlp(check_segmenter(segmenter))
    sentences: list[Sentence] = []
    for line in _LINE.finditer(text):
        doc = nlp(line.group())
        base = line.start()
        for sent in doc.sents:
            tokens = tuple(
                Token(tok.text, base + tok.idx, base + tok.idx + len(tok.text)) for tok in sent if not tok.is_space
            )
            if tokens:
                sentences.append(Sentence(tokens[0].start, tokens[-1].end, tokens))
    return sentences


@dataclass(frozen=True)
class WordSpan:
    sentence: int
    start: int  # first word, inclusive
    end: int  # last word, exclusive


class SpanLocator:
    """Maps character spans of a document to word spans of its sentences."""

    def __init__(self, sentences: Sequence[Sentence]):
        self._starts: dict[int, tuple[int, int]] = {}
        self._ends: dict[int, tuple[int, int]] = {}
        for s, sent in enumerate(sentences):
            for w, tok in enumerate(sent.tokens):
                self._starts[tok.start] = (s, w)
                self._ends[tok.end] = (s, w + 1)

    def locate(self, start: int, end: int) -> WordSpan | str:
        """The word span, or a reason why the characters do not map onto whole words of one sentence."""
        first, last = self._starts.get(start), self._ends.get(end)
        if first is None:
            return f"start offset {start} is not at a word boundary"
        if last is None:
            return f"end offset {end} is not at a word boundary"
        if first[0] != last[0]:
            return f"span crosses a sentence boundary (sentences {first[0]} and {last[0]})"
        if last[1] <= first[1]:
            return "span is empty"
        return WordSpan(first[0], first[1], last[1])
