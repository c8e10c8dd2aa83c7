"""Corpus readers by format name: ``data.format`` picks one.

A reader takes a path, the schema, a list for validation warnings, an optional label map and the
segmenter that makes words of raw text (:mod:`ie.data.text`), and returns validated sentence records
per document; it raises :class:`~ie.data.problems.ValidationError` with every problem it found. Every
format of :data:`ie.data.formats.FORMATS` is a reader through the same validation; CoNLL04's benchmark
JSON has its own. A new format is one module in :mod:`ie.data.formats` and one entry there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from ie.data.formats import FORMATS, Format, conll04
from ie.data.label_map import LabelMap
from ie.data.records import SentenceRecord, documents_records
from ie.data.schema import Schema
from ie.data.text import DEFAULT_SEGMENTER, check_segmenter
from ie.errors import ConfigError

log = logging.getLogger(__name__)

Reader = Callable[[str | Path, Schema, list | None, LabelMap | None, str], dict[str, list[SentenceRecord]]]


def _documents_reader(fmt: Format) -> Reader:
    def read_records(path, schema, warnings=None, label_map=None, segmenter=DEFAULT_SEGMENTER):
        return documents_records(fmt.read(path), schema, warnings, label_map, segmenter)

    return read_records


READERS: dict[str, Reader] = {
    **{name: _documents_reader(fmt) for name, fmt in FORMATS.items()},
    "conll04": conll04.read_records,
}


def load_records(
    fmt: str,
    path: str | Path,
    schema: Schema,
    warnings: list | None = None,
    label_map: LabelMap | None = None,
    segmenter: str = DEFAULT_SEGMENTER,
) -> dict[str, list[SentenceRecord]]:
    """Validated records of a corpus; errors raise ``ValidationError``, warnings go to ``warnings``.

    With ``label_map``, ``schema`` is the target schema and every document is mapped before it is
    validated (see :mod:`ie.data.label_map`); what the map kept and dropped is logged."""
    if fmt not in READERS:
        raise ConfigError(f"data.format: unknown format '{fmt}' (known: {', '.join(READERS)})")
    if not isinstance(path, (str, Path)):  # several folders or files read as one corpus
        return _merged([(p, load_records(fmt, p, schema, warnings, label_map, segmenter)) for p in path])
    records = READERS[fmt](path, schema, warnings, label_map, check_segmenter(segmenter))
    if label_map is not None:
        label_map.check_seen()
        log.info("%s: %s", path, label_map.describe())
    return records


def _merged(parts) -> dict[str, list[SentenceRecord]]:
    """One corpus from several (``data.path`` a list): document ids must be unique across them."""
    merged: dict[str, list[SentenceRecord]] = {}
    where: dict[str, str] = {}
    for path, records in parts:
        for doc_id, recs in records.items():
            if doc_id in merged:
                raise ConfigError(f"data.path: document '{doc_id}' is in both {where[doc_id]} and {path}")
            merged[doc_id], where[doc_id] = recs, str(path)
    return merged
