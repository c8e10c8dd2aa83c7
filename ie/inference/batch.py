"""Batch prediction: documents through a Predictor into the files of an output format, with a
progress bar on stderr. What ``python -m ie.predict`` runs once its inputs are read and checked."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from tqdm.auto import tqdm

from ie import atomic
from ie.inference.inputs import InputDocument, InputError, check_text
from ie.inference.uncertainty import document_uncertainty, order_tsv
from ie.inference.writers import WRITERS

DOCS_PER_CALL = 16  # documents per Predictor.predict call: the progress bar's step


def make_writer(
    fmt: str,
    output: str,
    overwrite: bool = False,
    stdout: TextIO | None = None,
    drop_relations: bool = False,
    model_version: str | None = None,
):
    if fmt not in WRITERS:
        raise InputError(f"format must be one of {list(WRITERS)}, got {fmt!r}")
    return WRITERS[fmt](
        output, overwrite=overwrite, stdout=stdout, drop_relations=drop_relations, model_version=model_version
    )


def order_path(output: str, fmt: str) -> Path:
    """Where ``order=uncertainty`` writes its ranking: ``ORDER.tsv`` in a brat folder, ``<name>.ORDER.tsv``
    beside an output file."""
    if output == "-":
        raise InputError("order=uncertainty writes ORDER.tsv beside the output: give output=<file or folder>")
    path = Path(output)
    return path / "ORDER.tsv" if fmt == "brat" else path.with_name(f"{path.stem}.ORDER.tsv")


def check_order(order: str | None, output: str, fmt: str, overwrite: bool) -> Path | None:
    if order is None:
        return None
    if order != "uncertainty":
        raise InputError(f"order must be null or uncertainty, got {order!r}")
    path = order_path(output, fmt)
    if path.exists() and not overwrite:
        raise InputError(f"{path} exists (it is never replaced without overwrite=true)")
    return path


def check_documents(docs: Sequence[InputDocument], max_chars: int | None) -> None:
    """Every text as the Predictor would check it, each error naming the document's file (and line)."""
    for doc in docs:
        check_text(doc.text, doc.source, max_chars)


def run_predictions(
    predictor,
    docs: Sequence[InputDocument],
    output: str,
    fmt: str = "jsonl",
    batch_size: int = 32,
    progress: bool | None = None,
    overwrite: bool = False,
    stdout: TextIO | None = None,
    drop_relations: bool = False,
    model_version: str | None = None,
    order: str | None = None,
) -> dict:
    """Predict ``docs`` and write them; returns counts (documents, entities, relations). Nothing is
    predicted before the writer has checked that every document can be written. ``order="uncertainty"``
    also ranks the documents by the model's uncertainty into ``ORDER.tsv`` (:mod:`ie.inference.uncertainty`),
    written with the output, when every document is done."""
    writer = make_writer(fmt, output, overwrite, stdout, drop_relations, model_version)
    writer.check(docs)
    ranking_path = check_order(order, output, fmt, overwrite)
    ranking = []
    writer.open(predictor)
    counts = {"documents": 0, "entities": 0, "relations": 0}
    # Default: a bar when stderr is a terminal (tqdm's disable=None), never mixed into the output.
    bar = tqdm(
        total=len(docs), unit="doc", desc="predict", disable=None if progress is None else not progress, file=sys.stderr
    )
    complete = False
    try:
        for i in range(0, len(docs), DOCS_PER_CALL):
            batch = docs[i : i + DOCS_PER_CALL]
            texts = [d.text for d in batch]
            if ranking_path is None:
                results = [(p, None) for p in predictor.predict(texts, batch_size=batch_size)]
            else:
                results = predictor.predict_with_word_confidence(texts, batch_size=batch_size)
            for doc, (prediction, confidences) in zip(batch, results):
                writer.write(doc, prediction)
                if ranking_path is not None:
                    ranking.append(document_uncertainty(doc.id, prediction, confidences, doc.source))
                counts["documents"] += 1
                counts["entities"] += len(prediction.entities)
                counts["relations"] += len(prediction.relations)
            bar.update(len(batch))
        complete = True
    finally:
        bar.close()
        writer.close(complete)
    if ranking_path is not None:
        atomic.write_text(ranking_path, order_tsv(ranking))
        counts["order"] = str(ranking_path)
    return counts
