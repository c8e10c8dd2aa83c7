"""What inference accepts: the texts the Predictor reads, and the documents the ``ie.predict`` command
reads them from (plain text files, folders of ``*.txt``, JSONL, stdin).

Texts: ``""`` or only (Unicode) whitespace gives an empty prediction; control characters, zero-width
characters, emoji, combining marks, any script and HTML are read as text. ``None`` or any non-string
is a ``TypeError``; a lone surrogate (not valid Unicode) and text longer than ``max_chars`` (default
200,000 characters, about 30,000 words, several times the longest news article) are an
:class:`InputError` naming the text and the position or both lengths.
"""

from __future__ import annotations

import glob
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ie.errors import IEError

DEFAULT_MAX_CHARS = 200_000
INPUT_FORMATS = ("auto", "text", "jsonl")


class InputError(IEError, ValueError):
    """An input that cannot be read or predicted; the message names the file (and line) or the text."""


def check_text(text, where: str, max_chars: int | None = DEFAULT_MAX_CHARS) -> None:
    """Reject what would otherwise fail deep inside spaCy, the tokenizer or torch; ``where`` names the
    text in the message (``texts[3]``, ``docs.jsonl:3``)."""
    if not isinstance(text, str):
        raise TypeError(f"{where} is {type(text).__name__}, expected str")
    if max_chars is not None and len(text) > max_chars:
        raise InputError(
            f"{where} has {len(text):,} characters, more than max_chars={max_chars:,}; "
            "split it, or load the Predictor with a larger max_chars (None: no limit)"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise InputError(
            f"{where} is not valid Unicode: lone surrogate {text[err.start]!r} at index {err.start}"
        ) from None


@dataclass(frozen=True)
class InputDocument:
    id: str
    text: str
    source: str  # file[:line], for messages


def read_text_file(path: Path) -> str:
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
        return [InputDocument(f.stem, read_text_file(f), str(f)) for f in files]
    if not path.is_file():
        raise InputError(f"{path}: no such file or folder")
    if input_format == "jsonl" or (input_format == "auto" and path.suffix == ".jsonl"):
        return parse_jsonl(read_text_file(path), str(path))
    return [InputDocument(path.stem, read_text_file(path), str(path))]


def read_inputs(
    inputs: str | Sequence[str], input_format: str = "auto", stdin: TextIO | None = None
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
