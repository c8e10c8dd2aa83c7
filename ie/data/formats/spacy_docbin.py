"""spaCy's ``DocBin`` (``.spacy``), the training format of ``spacy train``: entities as ``doc.ents``.

Entities only: a ``Doc`` has no standard place for relations (spaCy's relation tutorial keeps them in a
custom extension that a ``DocBin`` does not carry), so a conversion to this format with relations is
refused unless asked to drop them. Reading keeps spaCy's words and, where the ``Doc`` has them, its
sentence boundaries; a ``Doc`` without boundaries is segmented by ``data.segmenter`` like raw text.
Writing makes each ``Doc`` from the words the data was validated on, whitespace tokens where the text
has more than one space, so ``doc.text`` is the document's text exactly; the document id goes in
``doc.user_data["doc_id"]`` (read back from there, else ``<file stem>-<n>``). ``doc.spans`` groups
(span categorisation) are not entities and are not read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ie import atomic
from ie.data.documents import Document, EntityAnnotation
from ie.data.formats.words import document_sentences
from ie.data.problems import AnnotationError
from ie.data.spacy_runtime import import_spacy
from ie.data.text import DEFAULT_SEGMENTER, Sentence, Token

RELATIONS = False


def _vocab():
    return import_spacy().blank("en").vocab


def read_documents(path: str | Path) -> list[Document]:
    import_spacy()  # before spacy.tokens: without torch where it is not loaded (ie/data/spacy_runtime.py)
    from spacy.tokens import DocBin

    path = Path(path)
    if not path.is_file():
        raise AnnotationError(path, None, "spaCy DocBin file not found")
    try:
        docs = list(DocBin().from_bytes(path.read_bytes()).get_docs(_vocab()))
    except Exception as err:  # spaCy raises ValueError, KeyError or msgpack's errors for a damaged file
        raise AnnotationError(
            path, None, f"not a readable spaCy DocBin ({type(err).__name__}: {err}); is the file complete?"
        ) from None
    out = []
    for i, doc in enumerate(docs, start=1):
        doc_id = str(doc.user_data.get("doc_id", f"{path.stem}-{i}"))
        entities = [
            EntityAnnotation(f"T{k}", span.label_, span.start_char, span.end_char, span.text)
            for k, span in enumerate(doc.ents, start=1)
        ]
        sentences = None
        if doc.has_annotation("SENT_START"):
            sentences = []
            for sent in doc.sents:
                tokens = tuple(Token(t.text, t.idx, t.idx + len(t.text)) for t in sent if not t.is_space)
                if tokens:
                    sentences.append(Sentence(tokens[0].start, tokens[-1].end, tokens))
            sentences = tuple(sentences)
        out.append(Document(doc_id, doc.text, entities, [], source=f"{path}[doc {i}]", sentences=sentences))
    if not out:
        raise AnnotationError(path, None, "no documents in the DocBin")
    return out


def spacy_doc(doc: Document, vocab, segmenter: str = DEFAULT_SEGMENTER):
    """A spaCy ``Doc`` with exactly ``doc.text``, the data's words and sentences, and the entities."""
    from spacy.tokens import Doc

    words, spaces, starts = [], [], []
    position = 0

    def add(word: str, sentence_start: bool) -> None:
        words.append(word)
        spaces.append(False)
        starts.append(sentence_start)

    def whitespace(gap: str) -> None:
        """The text between two words: one space after a word, the rest as a whitespace token (spaCy's way)."""
        if gap and words and gap[0] == " ":
            spaces[-1], gap = True, gap[1:]
        if gap:
            add(gap, sentence_start=not words)

    for sentence in document_sentences(doc, segmenter):
        for w, token in enumerate(sentence.tokens):
            whitespace(doc.text[position : token.start])
            add(token.text, sentence_start=w == 0)
            position = token.end
    whitespace(doc.text[position:])
    made = Doc(vocab, words=words, spaces=spaces, sent_starts=starts)
    if made.text != doc.text:
        raise AnnotationError(doc.source or doc.id, None, "the words do not rebuild the text as a spaCy Doc")
    spans = []
    for ent in doc.entities:
        span = made.char_span(ent.start, ent.end, label=ent.label)
        if span is None:
            raise AnnotationError(
                doc.source or doc.id, None, f"entity {ent.id} {ent.text!r} is not whole words, which a spaCy Doc needs"
            )
        spans.append(span)
    try:
        made.ents = spans
    except ValueError as err:
        raise AnnotationError(doc.source or doc.id, None, f"doc.ents cannot hold these entities: {err}") from None
    made.user_data["doc_id"] = doc.id
    return made


def write_documents(
    docs: Sequence[Document], path: str | Path, segmenter: str = DEFAULT_SEGMENTER, model_version: str | None = None
) -> None:
    import_spacy()  # before spacy.tokens: without torch where it is not loaded (ie/data/spacy_runtime.py)
    from spacy.tokens import DocBin

    vocab = _vocab()
    binary = DocBin(attrs=["ORTH", "SPACY", "SENT_START", "ENT_IOB", "ENT_TYPE"], store_user_data=True)
    for doc in docs:
        binary.add(spacy_doc(doc, vocab, segmenter))
    with atomic.replacing(path) as tmp:
        tmp.write_bytes(binary.to_bytes())
