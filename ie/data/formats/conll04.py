"""CoNLL04 in the SpERT JSON form (``<paths.conll04>/conll04_{split}.json``) -> sentence records.

The files are not in this repository: they are read in place from ``paths.conll04`` (by default
``../shared/benchmarks/conll04/`` beside the repository; ``IE_CONLL04_DIR`` or ``paths.conll04=`` points
elsewhere). Where one is missing, reading fails with one line that says where to put them
(:func:`missing_files`, :func:`check_files`).

Each item is one pre-tokenised sentence. It becomes a one-sentence document whose text is the
tokens joined by single spaces, so it goes through exactly the validation the brat seeds go
through; the given tokens are kept (never re-tokenised). Each split file is one "document" for the
purpose of splits: ``data.splits: {train: [train], dev: [dev], test: [test]}``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ie.data.documents import Document, EntityAnnotation, RelationAnnotation
from ie.data.label_map import LabelMap
from ie.data.problems import AnnotationError, Problem, ValidationError
from ie.data.records import SentenceRecord, document_records
from ie.data.schema import Schema
from ie.data.text import Sentence, Token

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
FILES = tuple(f"conll04_{split}.json" for split in SPLITS)  # what the reader needs from the folder


def default_folder() -> Path:
    """Where ``paths.conll04`` points when the command line leaves it (:func:`ie.config.conll04_folder`), for
    code that reads CoNLL04 without a config."""
    from ie.config import conll04_folder

    return Path(conll04_folder())


def in_place(folder: str | Path) -> Path:
    """``folder``, or :func:`default_folder` where ``folder`` is this checkout's ``data/conll04``, which the
    saved configs of runs from before CoNLL04 was read in place name, and the files are not there."""
    from ie.config import PROJECT_ROOT

    folder = Path(folder)
    if folder.resolve() == (PROJECT_ROOT / "data" / "conll04").resolve() and missing_files(folder):
        log.info("%s: CoNLL04 is read in place now, from %s", folder, default_folder())
        return default_folder()
    return folder


def missing_files(folder: str | Path) -> list[str]:
    """The split files (``conll04_{train,dev,test}.json``) the reader needs that are not in ``folder``, as
    paths; empty when every one is there (or ``folder`` is not a folder: all of them)."""
    folder = Path(folder)
    return [str(folder / name) for name in FILES if not (folder / name).is_file()]


def check_files(folder: str | Path) -> None:
    """Raise :class:`~ie.data.problems.AnnotationError` (one line: the first missing file, where to put the
    files, how to point elsewhere and where they come from) where a split file is missing."""
    missing = missing_files(folder)
    if not missing:
        return
    others = [Path(m).name for m in missing[1:]]
    also = f" (also missing: {', '.join(others)})" if others else ""
    raise AnnotationError(
        missing[0],
        None,
        (
            f"CoNLL04 file not found{also}: put SpERT's CoNLL04 JSON release ({', '.join(FILES)}; sources and "
            f"sha256 in data/conll04/README.md) in {Path(folder)}, or point elsewhere with IE_CONLL04_DIR=FOLDER "
            f"or paths.conll04=FOLDER"
        ),
    )


def item_record(
    item: dict, source: str, index: int, schema: Schema, warnings: list | None = None, label_map: LabelMap | None = None
) -> SentenceRecord:
    """One JSON item as a validated record (labels mapped first with ``label_map``); errors name
    ``source[index]``."""
    where = f"{source}[{index}]"
    try:
        tokens_in = item["tokens"]
        entities_in, relations_in = item["entities"], item["relations"]
    except (KeyError, TypeError) as err:
        raise ValidationError([Problem(where, None, f"item lacks field {err}")]) from None
    tokens, offset = [], 0
    for word in tokens_in:
        tokens.append(Token(word, offset, offset + len(word)))
        offset += len(word) + 1
    text = " ".join(tokens_in)
    entities = []
    for k, ent in enumerate(entities_in):
        start, end = ent.get("start"), ent.get("end")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(tokens)):
            raise ValidationError(
                [Problem(where, None, f"entity {k} has token span {start}-{end} outside the {len(tokens)} tokens")]
            )
        a, b = tokens[start].start, tokens[end - 1].end
        entities.append(EntityAnnotation(f"T{k}", ent.get("type"), a, b, text[a:b], k + 1))
    relations = []
    for k, rel in enumerate(relations_in):
        relations.append(
            RelationAnnotation(
                f"R{k}", rel.get("type"), f"T{rel.get('head')}", f"T{rel.get('tail')}", len(entities_in) + k + 1
            )
        )
    doc = Document(where, text, entities, relations, source=where)
    # The benchmark is scored as published: spans such as "N.Y ." keep their punctuation token.
    sentences = [Sentence(0, len(text), tuple(tokens))] if tokens else []
    (record,) = document_records(
        doc,
        schema,
        sentences,
        edge_punctuation="warning",
        warnings=warnings,
        expect_annotations=False,
        label_map=label_map,
    )
    return record


def read_records(
    folder: str | Path,
    schema: Schema,
    warnings: list | None = None,
    label_map: LabelMap | None = None,
    segmenter: str | None = None,
) -> dict[str, list[SentenceRecord]]:
    """The train/dev/test files of ``folder``; every problem of every item is reported together. The
    benchmark's own tokens are kept, so ``segmenter`` does not apply.

    Line numbers in problems count entities first, then relations, within the item (1-based).
    """
    folder = in_place(folder)
    check_files(folder)
    records: dict[str, list[SentenceRecord]] = {}
    problems: list[Problem] = []
    for split in SPLITS:
        path = folder / f"conll04_{split}.json"
        try:
            items = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValidationError([Problem(str(path), err.lineno, f"invalid JSON: {err.msg}")]) from None
        split_records = []
        for index, item in enumerate(items):
            try:
                record = item_record(item, str(path), index, schema, warnings, label_map)
            except ValidationError as error:
                problems += error.problems
                continue
            record.doc_id, record.sent_index = split, index
            split_records.append(record)
        records[split] = split_records
    if problems:
        raise ValidationError(problems)
    return records
