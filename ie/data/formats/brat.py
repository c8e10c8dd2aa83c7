"""brat standoff files (``NAME.txt`` + ``NAME.ann``): reading into documents and records, and writing back.

Only what the schema can express is accepted: ``T`` lines with one contiguous span and ``R`` lines
with ``Arg1``/``Arg2``. brat's ``#`` annotator notes are kept out of the way; anything else (events,
attributes, normalisations, discontinuous spans) is an error, not something to drop silently.
"""

from __future__ import annotations

from pathlib import Path

from ie.data.documents import Document, EntityAnnotation, RelationAnnotation
from ie.data.label_map import LabelMap
from ie.data.problems import AnnotationError
from ie.data.records import SentenceRecord, documents_records
from ie.data.schema import Schema
from ie.data.text import DEFAULT_SEGMENTER


def _read_utf8(path: Path) -> str:
    try:
        # newline="" keeps \r\n as two characters so offsets match what brat and editors count.
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except UnicodeDecodeError as err:
        raise AnnotationError(path, None, f"not valid UTF-8 (byte {err.start}: {err.reason})") from None


def parse_ann(content: str, path: str | Path = "<ann>") -> tuple[list[EntityAnnotation], list[RelationAnnotation]]:
    entities: list[EntityAnnotation] = []
    relations: list[RelationAnnotation] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(content.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip() or line.startswith("#"):
            continue
        ann_id = line.split("\t", 1)[0]
        if ann_id in seen:
            raise AnnotationError(path, lineno, f"duplicate id '{ann_id}' (first on line {seen[ann_id]})")
        seen[ann_id] = lineno
        kind = ann_id[:1]
        if kind == "T":
            parts = line.split("\t")
            if len(parts) != 3:
                raise AnnotationError(
                    path, lineno, f"entity line needs 3 tab-separated fields, got {len(parts)}: {line!r}"
                )
            fields = parts[1].split(" ")
            if ";" in parts[1]:
                raise AnnotationError(path, lineno, f"discontinuous span '{parts[1]}' is not supported")
            if len(fields) != 3:
                raise AnnotationError(path, lineno, f"expected 'LABEL START END', got '{parts[1]}'")
            label, start, end = fields
            try:
                start_i, end_i = int(start), int(end)
            except ValueError:
                raise AnnotationError(path, lineno, f"offsets must be integers, got '{start}' '{end}'") from None
            entities.append(EntityAnnotation(ann_id, label, start_i, end_i, parts[2], lineno))
        elif kind == "R":
            parts = line.split("\t")
            if len(parts) < 2:
                raise AnnotationError(path, lineno, f"relation line needs an id and 'LABEL Arg1:T Arg2:T': {line!r}")
            fields = parts[1].split()
            args = dict(f.split(":", 1) for f in fields[1:] if ":" in f)
            if len(fields) != 3 or set(args) != {"Arg1", "Arg2"}:
                raise AnnotationError(path, lineno, f"expected 'LABEL Arg1:T.. Arg2:T..', got '{parts[1]}'")
            relations.append(RelationAnnotation(ann_id, fields[0], args["Arg1"], args["Arg2"], lineno))
        else:
            raise AnnotationError(
                path, lineno, f"unsupported annotation '{ann_id}' (only T and R lines are in the schema)"
            )
    return entities, relations


def read_document(txt_path: str | Path) -> Document:
    """Read ``NAME.txt`` and its ``NAME.ann`` partner; the document id is ``NAME``."""
    txt_path = Path(txt_path)
    ann_path = txt_path.with_suffix(".ann")
    if not txt_path.exists():
        raise AnnotationError(txt_path, None, "text file not found")
    if not ann_path.exists():
        raise AnnotationError(ann_path, None, f"annotation file missing for {txt_path.name}")
    text = _read_utf8(txt_path)
    entities, relations = parse_ann(_read_utf8(ann_path), ann_path)
    return Document(txt_path.stem, text, entities, relations, source=str(ann_path))


def read_folder(folder: str | Path) -> list[Document]:
    """Every ``*.txt``/``*.ann`` pair in ``folder``, sorted by name; a lone half is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AnnotationError(folder, None, "data folder not found")
    texts = {p.stem for p in folder.glob("*.txt")}
    anns = {p.stem for p in folder.glob("*.ann")}
    for stem in sorted(anns - texts):
        raise AnnotationError(folder / f"{stem}.ann", None, f"text file {stem}.txt missing")
    for stem in sorted(texts - anns):
        raise AnnotationError(folder / f"{stem}.txt", None, f"annotation file {stem}.ann missing")
    if not texts:
        raise AnnotationError(folder, None, "no .txt/.ann pairs found")
    return [read_document(folder / f"{stem}.txt") for stem in sorted(texts)]


def format_ann(entities, relations) -> str:
    """brat lines for entities (anything with id/label/start/end/text) and relations (id/label/head/tail ids);
    the scores of a prediction (a ``score`` that is not None) follow as AnnotatorNotes, which brat shows and
    :func:`parse_ann` skips."""
    lines = [f"{e.id}\t{e.label} {e.start} {e.end}\t{e.text}" for e in entities]
    lines += [f"{r.id}\t{r.label} Arg1:{r.head} Arg2:{r.tail}" for r in relations]
    scored = [(a.id, a.score) for a in [*entities, *relations] if getattr(a, "score", None) is not None]
    lines += [f"#{n}\tAnnotatorNotes {ann_id}\tmodel score {score:.3f}" for n, (ann_id, score) in enumerate(scored, 1)]
    return "".join(line + "\n" for line in lines)


def write_document(doc: Document, folder: str | Path) -> Path:
    """Write ``doc`` as ``folder/ID.txt`` + ``folder/ID.ann``; returns the .ann path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{doc.id}.txt", "w", encoding="utf-8", newline="") as handle:
        handle.write(doc.text)
    ann = folder / f"{doc.id}.ann"
    with open(ann, "w", encoding="utf-8", newline="") as handle:
        handle.write(format_ann(doc.entities, doc.relations))
    return ann


read_documents = read_folder


def read_records(
    folder: str | Path,
    schema: Schema,
    warnings: list | None = None,
    label_map: LabelMap | None = None,
    segmenter: str = DEFAULT_SEGMENTER,
) -> dict[str, list[SentenceRecord]]:
    """All documents of a brat folder as validated records; every error of every file is reported."""
    return documents_records(read_folder(folder), schema, warnings, label_map, segmenter)


RELATIONS = True


def write_schema_files(folder: str | Path, schema: Schema) -> None:
    """``schema.json`` (what ``ie.validate`` and training read) and brat's ``annotation.conf`` in ``folder``,
    each unless the folder has it, so the folder is a data folder like ``seeds/``."""
    folder = Path(folder)
    if not (folder / "annotation.conf").exists():
        (folder / "annotation.conf").write_text(schema.to_brat_conf(), encoding="utf-8")
    if not (folder / "schema.json").exists():
        schema.save(folder / "schema.json")


def write_documents(
    docs, folder: str | Path, segmenter: str = DEFAULT_SEGMENTER, model_version: str | None = None
) -> None:
    """Every document as ``ID.txt`` + ``ID.ann`` in ``folder`` (scores, when there are, as AnnotatorNotes)."""
    for doc in docs:
        write_document(doc, folder)
