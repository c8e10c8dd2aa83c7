"""Batch prediction: documents through a Predictor into the files of an output format, with a
progress bar on stderr. What ``python -m ie.predict`` runs once its inputs are read and checked."""

from __future__ import annotations

import sys
from typing import Sequence, TextIO

from tqdm.auto import tqdm

from ie.inference.inputs import InputDocument, InputError, check_text
from ie.inference.writers import WRITERS

DOCS_PER_CALL = 16  # documents per Predictor.predict call: the progress bar's step


def make_writer(fmt: str, output: str, overwrite: bool = False, stdout: TextIO | None = None,
                drop_relations: bool = False, model_version: str | None = None):
    if fmt not in WRITERS:
        raise InputError(f"format must be one of {list(WRITERS)}, got {fmt!r}")
    return WRITERS[fmt](output, overwrite=overwrite, stdout=stdout, drop_relations=drop_relations,
                        model_version=model_version)


def check_documents(docs: Sequence[InputDocument], max_chars: int | None) -> None:
    """Every text as the Predictor would check it, each error naming the document's file (and line)."""
    for doc in docs:
        check_text(doc.text, doc.source, max_chars)


def run_predictions(predictor, docs: Sequence[InputDocument], output: str, fmt: str = "jsonl",
                    batch_size: int = 32, progress: bool | None = None, overwrite: bool = False,
                    stdout: TextIO | None = None, drop_relations: bool = False, model_version: str | None = None
                    ) -> dict:
    """Predict ``docs`` and write them; returns counts (documents, entities, relations). Nothing is
    predicted before the writer has checked that every document can be written."""
    writer = make_writer(fmt, output, overwrite, stdout, drop_relations, model_version)
    writer.check(docs)
    writer.open(predictor)
    counts = {"documents": 0, "entities": 0, "relations": 0}
    # Default: a bar when stderr is a terminal (tqdm's disable=None), never mixed into the output.
    bar = tqdm(total=len(docs), unit="doc", desc="predict", disable=None if progress is None else not progress,
               file=sys.stderr)
    complete = False
    try:
        for i in range(0, len(docs), DOCS_PER_CALL):
            batch = docs[i:i + DOCS_PER_CALL]
            for doc, prediction in zip(batch, predictor.predict([d.text for d in batch], batch_size=batch_size)):
                writer.write(doc, prediction)
                counts["documents"] += 1
                counts["entities"] += len(prediction.entities)
                counts["relations"] += len(prediction.relations)
            bar.update(len(batch))
        complete = True
    finally:
        bar.close()
        writer.close(complete)
    return counts
