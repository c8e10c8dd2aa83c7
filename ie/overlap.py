"""``python -m ie.overlap CORPUS REFERENCES [--max-words 8]``: what an annotated brat corpus shares with
reference articles (the seeds): the longest shared word n-gram, and per reference article the entity
strings both annotate (:mod:`ie.data.overlap`). Exits 1 when the longest shared n-gram has
``--max-words`` words or more, the trace of a copied sentence."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ie.errors import guarded


def report(corpus: Path, references: Path, max_words: int) -> int:
    from ie.data.formats import brat
    from ie.data.overlap import longest_shared_ngram, shared_entity_strings

    docs, refs = brat.read_folder(corpus), brat.read_folder(references)
    shared = longest_shared_ngram(docs, refs)
    length = shared.length if shared else 0
    print(f"{corpus} ({len(docs)} documents) against {references} ({len(refs)} documents)")
    if shared:
        shown = " ".join(shared.words[:20]) + (" ..." if length > 20 else "")
        print(
            f'longest shared word n-gram: {length} words, "{shown}" '
            f"({shared.document} and {shared.reference}); the limit is under {max_words}"
        )
    else:
        print("no word in common")
    for ref_id, strings in shared_entity_strings(docs, refs).items():
        print(f"{ref_id}: {len(strings)} entity strings also annotated in the corpus" + (": " if strings else ""))
        for text in strings:
            print(f"  {text}")
    return 0 if length < max_words else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ie.overlap", description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="a brat folder: the corpus to check")
    parser.add_argument("references", type=Path, help="a brat folder: the articles it must not copy (seeds)")
    parser.add_argument("--max-words", type=int, default=8, help="shared n-grams of this many words fail (8)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an expected error")
    args = parser.parse_args(argv)
    return guarded("ie.overlap", lambda: report(args.corpus, args.references, args.max_words), args.debug)


if __name__ == "__main__":
    sys.exit(main())
