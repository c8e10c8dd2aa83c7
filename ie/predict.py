"""Predict from the command line: texts in, entities and relations out, as JSONL or as brat files.

    python -m ie.predict run=models/seeds/<time> input=article.txt            # JSONL on stdout
    python -m ie.predict run=latest input=folder/ output=predictions.jsonl
    cat docs.jsonl | python -m ie.predict run=latest input=- > predictions.jsonl
    python -m ie.predict run=latest input=new_articles/ format=brat output=to_correct/

Input: plain text files (one document each, the id is the file name without ``.txt``), folders of
``*.txt``, ``.jsonl`` files with one ``{"id": ..., "text": ...}`` object per line, or ``-`` for stdin
(JSONL if its first non-blank line starts with ``{``, else one text); several as ``input=[a,b]``.
Every input is read and checked before anything is predicted or written.

``format=brat`` writes ``<id>.txt`` (a byte-exact copy of the text) and ``<id>.ann`` with the
predictions, plus the model's ``schema.json`` and its ``annotation.conf`` (unless the folder has them), so
the folder opens in brat as pre-annotations to correct and ``python -m ie.validate`` checks it; the
corrected files can be added to ``seeds/`` (or any data folder). Scores go into
``AnnotatorNotes``, which brat shows and the project's reader skips. Existing ``.ann`` files are never
replaced unless ``overwrite=true``: a folder of human annotations must not be clobbered by mistake.
"""

from __future__ import annotations

import glob
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence, TextIO

from tqdm.auto import tqdm

from ie import atomic
from ie.brat import format_ann

log = logging.getLogger(__name__)

DOCS_PER_CALL = 16  # documents per Predictor.predict call: the progress bar's step
FORMATS = ("jsonl", "brat")
INPUT_FORMATS = ("auto", "text", "jsonl")


class InputError(ValueError):
    """An input that cannot be read as documents; the message names the file (and line)."""


@dataclass(frozen=True)
class InputDocument:
    id: str
    text: str
    source: str  # file[:line], for messages


# --- reading -------------------------------------------------------------------------------------

def _read_text(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as handle:  # keep \r\n: offsets count both
            return handle.read()
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not valid UTF-8 (byte {err.start}: {err.reason})") from None


def parse_jsonl(content: str, source: str, default_prefix: str | None = None) -> list[InputDocument]:
    """One document per non-blank line; a line without "id" gets ``<file stem>-<line number>``."""
    prefix = default_prefix or Path(source).stem
    docs = []
    for lineno, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{where}: not JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise InputError(f'{where}: expected an object with a string "text" field, got {line[:80]!r}')
        doc_id = obj.get("id", f"{prefix}-{lineno}")
        if not isinstance(doc_id, (str, int)) or isinstance(doc_id, bool) or str(doc_id) == "":
            raise InputError(f'{where}: "id" must be a non-empty string or an integer, got {doc_id!r}')
        docs.append(InputDocument(str(doc_id), obj["text"], where))
    return docs


def _read_stdin(stream: TextIO, input_format: str) -> list[InputDocument]:
    content = stream.read()
    first = next((line for line in content.splitlines() if line.strip()), "")
    if input_format == "jsonl" or (input_format == "auto" and first.lstrip().startswith("{")):
        return parse_jsonl(content, "<stdin>", "stdin")
    return [InputDocument("stdin", content, "<stdin>")]


def _read_path(path: Path, input_format: str) -> list[InputDocument]:
    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise InputError(f"{path}: folder holds no .txt files")
        return [InputDocument(f.stem, _read_text(f), str(f)) for f in files]
    if not path.is_file():
        raise InputError(f"{path}: no such file or folder")
    if input_format == "jsonl" or (input_format == "auto" and path.suffix == ".jsonl"):
        return parse_jsonl(_read_text(path), str(path))
    return [InputDocument(path.stem, _read_text(path), str(path))]


def read_inputs(inputs: str | Sequence[str], input_format: str = "auto", stdin: TextIO | None = None
                ) -> list[InputDocument]:
    """Documents of every input, in order; ids must be unique across all of them."""
    if input_format not in INPUT_FORMATS:
        raise InputError(f"input_format must be one of {list(INPUT_FORMATS)}, got {input_format!r}")
    specs = [inputs] if isinstance(inputs, str) else list(inputs)
    if not specs:
        raise InputError("input: nothing given")
    docs: list[InputDocument] = []
    for spec in map(str, specs):
        if spec == "-":
            docs += _read_stdin(stdin or sys.stdin, input_format)
        elif glob.has_magic(spec):
            matches = sorted(glob.glob(spec))
            if not matches:
                raise InputError(f"{spec}: the pattern matches no file")
            for match in matches:
                docs += _read_path(Path(match), input_format)
        else:
            docs += _read_path(Path(spec), input_format)
    seen: dict[str, str] = {}
    for doc in docs:
        if doc.id in seen:
            raise InputError(f"{doc.source}: document id '{doc.id}' repeats (first at {seen[doc.id]})")
        seen[doc.id] = doc.source
    return docs


# --- writing -------------------------------------------------------------------------------------

def prediction_record(doc_id: str, prediction) -> dict:
    """One JSONL line: entities with character offsets and scores; relations point at entities by
    their index in ``entities``."""
    index = {id(e): i for i, e in enumerate(prediction.entities)}
    return {"id": doc_id, "text": prediction.text,
            "entities": [e.to_dict() for e in prediction.entities],
            "relations": [{"label": r.label, "head": index[id(r.head)], "tail": index[id(r.tail)], "score": r.score}
                          for r in prediction.relations]}


@dataclass(frozen=True)
class _Ann:
    id: str
    label: str
    start: int = 0
    end: int = 0
    text: str = ""
    head: str = ""
    tail: str = ""


def brat_ann(prediction) -> str:
    """The ``.ann`` content of a prediction: T and R lines, then each score as an AnnotatorNotes line."""
    ids = {id(e): f"T{i}" for i, e in enumerate(prediction.entities, start=1)}
    entities = [_Ann(ids[id(e)], e.label, e.start, e.end, e.text) for e in prediction.entities]
    relations = [_Ann(f"R{i}", r.label, head=ids[id(r.head)], tail=ids[id(r.tail)])
                 for i, r in enumerate(prediction.relations, start=1)]
    scored = [(a.id, e.score) for a, e in zip(entities, prediction.entities)]
    scored += [(a.id, r.score) for a, r in zip(relations, prediction.relations)]
    notes = "".join(f"#{n}\tAnnotatorNotes {ann_id}\tmodel score {score:.3f}\n"
                    for n, (ann_id, score) in enumerate(scored, start=1))
    return format_ann(entities, relations) + notes


def _safe_name(doc: InputDocument) -> str:
    if doc.id in (".", "..") or any(c in doc.id for c in "/\\\0") or doc.id.startswith("."):
        raise InputError(f"{doc.source}: document id '{doc.id}' cannot be a file name for format=brat")
    return doc.id


def check_brat_output(folder: Path, docs: Sequence[InputDocument], overwrite: bool) -> None:
    """Refuse, before predicting, to replace annotations or texts that are already there."""
    for doc in docs:
        name = _safe_name(doc)
        ann, txt = folder / f"{name}.ann", folder / f"{name}.txt"
        if ann.exists() and not overwrite:
            raise InputError(f"{ann} exists (annotations are never replaced without overwrite=true)")
        if txt.exists() and _read_text(txt) != doc.text:
            raise InputError(f"{txt} exists with a different text than {doc.source}")


def write_brat(folder: Path, doc: InputDocument, prediction) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    name = _safe_name(doc)
    with open(folder / f"{name}.txt", "w", encoding="utf-8", newline="") as handle:
        handle.write(doc.text)
    return atomic.write_text(folder / f"{name}.ann", brat_ann(prediction), newline="")


def _batches(docs: Sequence[InputDocument], size: int) -> Iterable[Sequence[InputDocument]]:
    for i in range(0, len(docs), size):
        yield docs[i:i + size]


def run_predictions(predictor, docs: Sequence[InputDocument], output: str, fmt: str = "jsonl",
                    batch_size: int = 32, progress: bool | None = None, overwrite: bool = False,
                    stdout: TextIO | None = None) -> dict:
    """Predict ``docs`` and write them; returns counts (documents, entities, relations)."""
    if fmt not in FORMATS:
        raise InputError(f"format must be one of {list(FORMATS)}, got {fmt!r}")
    counts = {"documents": 0, "entities": 0, "relations": 0}
    if fmt == "brat":
        if output == "-":
            raise InputError("format=brat writes files: give output=<folder>")
        folder = Path(output)
        check_brat_output(folder, docs, overwrite)
        folder.mkdir(parents=True, exist_ok=True)
        # A data folder like seeds/: brat reads annotation.conf, ie.validate and training read schema.json.
        if not (folder / "annotation.conf").exists():
            (folder / "annotation.conf").write_text(predictor.schema.to_brat_conf(), encoding="utf-8")
        if not (folder / "schema.json").exists():
            predictor.schema.save(folder / "schema.json")
        sink = None
    else:
        if output == "-":
            sink = stdout or sys.stdout
        else:  # written beside, renamed into place when complete: a failed run leaves no half file
            Path(output).parent.mkdir(parents=True, exist_ok=True)
            sink = open(f"{output}.partial", "w", encoding="utf-8")
    # Default: a bar when stderr is a terminal (tqdm's disable=None), never mixed into the output.
    bar = tqdm(total=len(docs), unit="doc", desc="predict", disable=None if progress is None else not progress,
               file=sys.stderr)
    try:
        for batch in _batches(docs, DOCS_PER_CALL):
            for doc, prediction in zip(batch, predictor.predict([d.text for d in batch], batch_size=batch_size)):
                if sink is None:
                    write_brat(folder, doc, prediction)
                else:
                    sink.write(json.dumps(prediction_record(doc.id, prediction), ensure_ascii=False) + "\n")
                counts["documents"] += 1
                counts["entities"] += len(prediction.entities)
                counts["relations"] += len(prediction.relations)
            bar.update(len(batch))
    finally:
        bar.close()
        if sink is not None and sink is not (stdout or sys.stdout):
            sink.close()
        elif sink is not None:
            sink.flush()
    if fmt == "jsonl" and output != "-":
        Path(f"{output}.partial").replace(output)
    return counts


# --- command line --------------------------------------------------------------------------------

def _main(cfg) -> None:
    from omegaconf import OmegaConf

    from ie.checkpoint import CheckpointError
    from ie.evaluation import resolve_run
    from ie.predictor import Predictor

    try:
        inputs = OmegaConf.to_container(cfg.input) if OmegaConf.is_config(cfg.input) else cfg.input
        docs = read_inputs(inputs, cfg.input_format)
        run_dir = resolve_run(cfg.run, cfg.paths.models_dir)
        if cfg.format == "brat" and cfg.output != "-":
            check_brat_output(Path(cfg.output), docs, cfg.overwrite)
        predictor = Predictor.from_pretrained(run_dir, device=cfg.device, precision=cfg.precision,
                                              decoding=cfg.decoding, backend=cfg.backend)
        counts = run_predictions(predictor, docs, cfg.output, cfg.format, cfg.batch_size, cfg.progress,
                                 cfg.overwrite)
    except (InputError, CheckpointError, FileNotFoundError) as error:
        raise SystemExit(f"ie.predict: {error}") from None
    where = "stdout" if cfg.output == "-" else cfg.output
    log.info("%d documents, %d entities, %d relations -> %s (%s, run %s)", counts["documents"],
             counts["entities"], counts["relations"], where, cfg.format, run_dir)


def main() -> None:
    import hydra

    from ie.config import register

    register()
    hydra.main(version_base="1.3", config_path="../configs", config_name="predict")(_main)()


if __name__ == "__main__":
    main()
