"""Corpus readers by format name: ``data.format`` picks one.

A reader takes a path, the schema, a list for validation warnings, an optional label map and the
segmenter that makes words of raw text (:mod:`ie.data.text`), and returns validated sentence records
per document; it raises :class:`~ie.data.problems.ValidationError` with every problem it found. A new
format is one module with a ``read_records`` function and one entry in :data:`READERS`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from ie.data import brat, conll04
from ie.data.label_map import LabelMap
from ie.data.records import SentenceRecord
from ie.data.schema import Schema
from ie.data.text import DEFAULT_SEGMENTER, check_segmenter
from ie.errors import ConfigError

log = logging.getLogger(__name__)

Reader = Callable[[str | Path, Schema, list | None, LabelMap | None, str], dict[str, list[SentenceRecord]]]
READERS: dict[str, Reader] = {"brat": brat.read_records, "conll04": conll04.read_records}


def load_records(fmt: str, path: str | Path, schema: Schema, warnings: list | None = None,
                 label_map: LabelMap | None = None, segmenter: str = DEFAULT_SEGMENTER
                 ) -> dict[str, list[SentenceRecord]]:
    """Validated records of a corpus; errors raise ``ValidationError``, warnings go to ``warnings``.

    With ``label_map``, ``schema`` is the target schema and every document is mapped before it is
    validated (see :mod:`ie.data.label_map`); what the map kept and dropped is logged."""
    if fmt not in READERS:
        raise ConfigError(f"data.format: unknown format '{fmt}' (known: {', '.join(READERS)})")
    records = READERS[fmt](path, schema, warnings, label_map, check_segmenter(segmenter))
    if label_map is not None:
        label_map.check_seen()
        log.info("%s: %s", path, label_map.describe())
    return records
