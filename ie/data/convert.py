"""Annotated documents from one format to another, with the checks training would make.

Read with the input format's reader (anything it cannot read is one error naming the file and the line,
task or item); validate against the schema when there is one (the checks training runs: labels,
relation signatures, offsets and the text under them, whole words); refuse to drop relations that the
output format cannot hold unless told to; write the output complete or not at all, never over an
existing one unless told to.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ie import atomic
from ie.data.formats import brat, get_format
from ie.data.formats.label_studio import labeling_config
from ie.data.records import documents_records
from ie.data.schema import Schema
from ie.data.text import check_segmenter
from ie.errors import ConfigError

log = logging.getLogger(__name__)


def find_schema(schema: str | None, input_path: Path, input_format: str) -> Schema | None:
    if schema is not None:
        return Schema.load(schema)
    beside = input_path / "schema.json"
    if input_format == "brat" and beside.is_file():
        return Schema.load(beside)
    return None


def convert(
    input: str,
    input_format: str,
    output: str,
    output_format: str,
    schema: str | None = None,
    segmenter: str = "spacy_keep_hyphens",
    drop_relations: bool = False,
    overwrite: bool = False,
) -> dict:
    """Convert and return counts: documents, entities, relations written and relations dropped."""
    source, target = get_format(input_format, "input_format"), get_format(output_format, "output_format")
    check_segmenter(segmenter)
    input_path, output_path = Path(input), Path(output)
    if output_path.exists() and not overwrite:
        raise ConfigError(f"output: {output_path} exists (it is never replaced without overwrite=true)")
    if output_path.resolve() == input_path.resolve():
        raise ConfigError(f"output: {output_path} is the input")
    docs = source.read(input_path)
    known = find_schema(schema, input_path, input_format)
    if known is None:
        log.warning("no schema given: labels and relation signatures are not checked (give schema=...)")
    else:
        warnings: list = []
        documents_records(docs, known, warnings, segmenter=segmenter)  # raises with every error found
        for problem in warnings:
            log.warning("%s", problem)
    relations = sum(len(doc.relations) for doc in docs)
    dropped = 0
    if relations and not target.relations:
        if not drop_relations:
            raise ConfigError(
                f"output_format={output_format} holds entities only, and the input has {relations} "
                f"relations: set drop_relations=true to write the entities alone"
            )
        dropped, relations = relations, 0
        for doc in docs:
            doc.relations = []
    if target.folder:
        with atomic.replacing(output_path) as folder:
            folder.mkdir()
            target.write(docs, folder, segmenter)
            if known is not None:
                brat.write_schema_files(folder, known)
    else:
        target.write(docs, output_path, segmenter)
        if output_format == "label_studio" and known is not None:
            config = output_path.with_name(f"{output_path.stem}.label_config.xml")
            atomic.write_text(config, labeling_config(known))
            log.info("Label Studio labeling config for these tasks: %s", config)
    counts = {
        "documents": len(docs),
        "entities": sum(len(doc.entities) for doc in docs),
        "relations": relations,
        "relations_dropped": dropped,
    }
    log.info(
        "%s (%s) -> %s (%s): %d documents, %d entities, %d relations%s",
        input_path,
        input_format,
        output_path,
        output_format,
        counts["documents"],
        counts["entities"],
        relations,
        f" ({dropped} relations dropped)" if dropped else "",
    )
    return counts
