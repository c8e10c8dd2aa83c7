"""Batch prediction split over processes or machines (``shard=I num_shards=N``), and the check that
puts the pieces back together (``merge=true``).

A document's shard is a hash of its id, not of its position, so every process computes the same split
from the same inputs whatever order it lists them in, and adding a document moves no other one. Each
shard writes its own file (``out.jsonl`` -> ``out-00001-of-00003.jsonl``), atomically; brat shards
write disjoint files into one folder. The merge reads the same inputs and refuses unless every input
id was written exactly once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from ie import atomic
from ie.inference.inputs import InputDocument, InputError


def shard_of(doc_id: str, num_shards: int) -> int:
    """The shard of a document id: stable across processes, machines and Python versions (no ``hash``)."""
    return int.from_bytes(hashlib.sha256(doc_id.encode("utf-8")).digest()[:8], "big") % num_shards


def check_shard(shard: int, num_shards: int) -> None:
    if num_shards < 1:
        raise InputError(f"num_shards must be at least 1, got {num_shards}")
    if not 0 <= shard < num_shards:
        raise InputError(f"shard={shard}: must be in [0, {num_shards}) (num_shards={num_shards})")


def select_shard(docs: Sequence[InputDocument], shard: int, num_shards: int) -> list[InputDocument]:
    check_shard(shard, num_shards)
    return [doc for doc in docs if shard_of(doc.id, num_shards) == shard]


def shard_output(output: str, fmt: str, shard: int, num_shards: int) -> str:
    """Where shard ``shard`` writes: its own JSONL file, or the shared brat folder."""
    if num_shards == 1 or fmt == "brat":
        return output
    if output == "-":
        raise InputError("num_shards > 1: each shard writes its own file; give output=<file.jsonl>, not stdout")
    path = Path(output)
    return str(path.with_name(f"{path.stem}-{shard:05d}-of-{num_shards:05d}{path.suffix}"))


def merge_shards(docs: Sequence[InputDocument], output: str, fmt: str, num_shards: int) -> dict:
    """Check that every input id was predicted exactly once by the ``num_shards`` shards; for JSONL also
    write their lines, in input order, to ``output`` (atomically). Returns counts."""
    check_shard(0, num_shards)
    expected = [doc.id for doc in docs]
    if fmt == "brat":
        missing = [i for i in expected if not (Path(output) / f"{i}.ann").exists()]
        if missing:
            raise InputError(
                f"{output}: no .ann for {len(missing)} of {len(expected)} documents, first "
                f"'{missing[0]}' (shard {shard_of(missing[0], num_shards)} of {num_shards})"
            )
        return {"documents": len(expected), "shards": num_shards}
    lines = _read_shard_lines(output, num_shards)
    unknown = sorted(lines.keys() - set(expected))
    if unknown:
        raise InputError(
            f"{lines[unknown[0]][0][0]}: document '{unknown[0]}' is not among the inputs; "
            "were the shards made from other inputs?"
        )
    for doc_id in expected:
        found = lines.get(doc_id, [])
        if len(found) != 1:
            where = ", ".join(f"{f}:{n}" for f, n, _ in found) if found else "no shard file"
            raise InputError(
                f"document '{doc_id}' was written {len(found)} times ({where}); expected once "
                f"(its shard: {shard_of(doc_id, num_shards)} of {num_shards})"
            )
    atomic.write_text(output, "".join(lines[doc_id][0][2] for doc_id in expected))
    return {"documents": len(expected), "shards": num_shards}


def _read_shard_lines(output: str, num_shards: int) -> dict[str, list[tuple[str, int, str]]]:
    """id -> [(file, line number, line)] over the shard files, each of which must exist."""
    lines: dict[str, list[tuple[str, int, str]]] = {}
    for shard in range(num_shards):
        path = shard_output(output, "jsonl", shard, num_shards)
        if not Path(path).exists():
            raise InputError(f"{path}: missing; run that shard again (shard={shard} num_shards={num_shards})")
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    doc_id = json.loads(line)["id"]
                except (ValueError, KeyError, TypeError):
                    raise InputError(f'{path}:{number}: not a prediction line (JSON with an "id")') from None
                lines.setdefault(str(doc_id), []).append((path, number, line if line.endswith("\n") else line + "\n"))
    return lines
