"""CoNLL BIO files: one word per line with its tag in the last column, a blank line between sentences.

``-DOCSTART-`` opens a document, as in CoNLL-2003; where this module wrote it, the rest of that line is
the document id (``-DOCSTART-<TAB>ID``); the CoNLL-2003 form ``-DOCSTART- -X- -X- O`` carries none, and
its documents are named ``<file stem>-<n>``. A file without ``-DOCSTART-`` is one document. The tags are
BIO (IOB2); IOB1 (an ``I-`` that opens an entity) and BIOES (``S-``, ``E-``) are read too. Other
columns (part of speech, chunks) are ignored. ``data.path`` is a file or a folder of ``*.conll`` files.

Entities only: the format has no place for relations, nor for the text between words, so a document
read back is its words joined by single spaces (sentences by line breaks), and the words are kept as
given, never re-segmented.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ie import atomic
from ie.data.bio import OUTSIDE, spans_to_tags, tags_to_spans
from ie.data.documents import Document, EntityAnnotation
from ie.data.formats.words import document_sentences, entity_word_spans
from ie.data.problems import AnnotationError
from ie.data.text import DEFAULT_SEGMENTER, Sentence, Token

RELATIONS = False
DOCSTART = "-DOCSTART-"
_PREFIXES = {"B": "B", "I": "I", "S": "B", "E": "I"}  # BIOES read as BIO: a span's first word is B, the rest I


def _document(doc_id: str, sentences: list[list[tuple[str, str]]], path: Path, first_line: int) -> Document:
    """Words and tags of a document's sentences -> a document whose text is the words joined."""
    text_parts, built, entities = [], [], []
    offset = 0
    for sentence in sentences:
        tokens = []
        for word, _ in sentence:
            if tokens:
                text_parts.append(" ")
                offset += 1
            tokens.append(Token(word, offset, offset + len(word)))
            text_parts.append(word)
            offset += len(word)
        built.append(Sentence(tokens[0].start, tokens[-1].end, tuple(tokens)))
        for start, end, label in tags_to_spans([tag for _, tag in sentence]):
            a, b = tokens[start].start, tokens[end - 1].end
            entities.append((a, b, label))
        text_parts.append("\n")
        offset += 1
    text = "".join(text_parts)
    annotations = [EntityAnnotation(f"T{i}", label, a, b, text[a:b]) for i, (a, b, label) in enumerate(entities, 1)]
    return Document(doc_id, text, annotations, [], source=f"{path}:{first_line}", sentences=tuple(built))


def _tag(raw: str, path: Path, number: int) -> str:
    if raw == OUTSIDE:
        return raw
    prefix, _, label = raw.partition("-")
    if prefix not in _PREFIXES or not label:
        raise AnnotationError(path, number, f"tag {raw!r} is not O, B-LABEL or I-LABEL (nor BIOES S-/E-)")
    return f"{_PREFIXES[prefix]}-{label}"


def read_file(path: Path) -> list[Document]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise AnnotationError(path, None, f"not valid UTF-8 (byte {err.start})") from None
    docs: list[Document] = []
    doc_id, doc_line, sentences, sentence = None, 1, [], []

    def close_document():
        if sentence:
            sentences.append(list(sentence))
            sentence.clear()
        if sentences:
            name = doc_id or f"{path.stem}-{len(docs) + 1}"
            docs.append(_document(name, list(sentences), path, doc_line))
            sentences.clear()

    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if line.startswith(DOCSTART):
            close_document()
            rest = line[len(DOCSTART) :].strip()
            doc_id = rest if rest and set(rest.split()) - {"-X-", OUTSIDE} else None
            doc_line = number
            continue
        if not line.strip():
            if sentence:
                sentences.append(list(sentence))
                sentence.clear()
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) < 2:
            raise AnnotationError(path, number, f"expected 'WORD<TAB>TAG', got {line!r}")
        word, tag = fields[0].strip(), fields[-1].strip()
        if not word:
            raise AnnotationError(path, number, "empty word")
        sentence.append((word, _tag(tag, path, number)))
    close_document()
    return docs


def read_documents(path: str | Path) -> list[Document]:
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.conll"))
        if not files:
            raise AnnotationError(path, None, "no *.conll files in the folder")
    elif path.is_file():
        files = [path]
    else:
        raise AnnotationError(path, None, "CoNLL file or folder not found")
    docs = [doc for file in files for doc in read_file(file)]
    if not docs:
        raise AnnotationError(path, None, "no sentences (the file is empty)")
    return docs


def document_lines(doc: Document, segmenter: str = DEFAULT_SEGMENTER) -> str:
    sentences = document_sentences(doc, segmenter)
    by_sentence: dict[int, list[tuple[int, int, str]]] = {}
    for span, label in entity_word_spans(doc, sentences, "CoNLL"):
        by_sentence.setdefault(span.sentence, []).append((span.start, span.end, label))
    if any(c.isspace() for c in doc.id):
        raise AnnotationError(
            doc.source or doc.id, None, f"document id {doc.id!r} has whitespace: a CoNLL -DOCSTART- line cannot hold it"
        )
    out = [f"{DOCSTART}\t{doc.id}", ""]
    for s, sentence in enumerate(sentences):
        tags = spans_to_tags(len(sentence.tokens), by_sentence.get(s, []))
        out += [f"{token.text}\t{tag}" for token, tag in zip(sentence.tokens, tags)]
        out.append("")
    return "\n".join(out) + "\n"


def write_documents(
    docs: Sequence[Document], path: str | Path, segmenter: str = DEFAULT_SEGMENTER, model_version: str | None = None
) -> None:
    atomic.write_text(path, "".join(document_lines(doc, segmenter) for doc in docs))
