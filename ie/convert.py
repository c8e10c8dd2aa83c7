"""``python -m ie.convert``: annotated documents from one format to another.

    python -m ie.convert input=seeds input_format=brat output=tasks.json output_format=label_studio
    python -m ie.convert input=export.json input_format=label_studio output=data/ output_format=brat \\
        schema=seeds/schema.json
    python -m ie.convert input=project.jsonl input_format=doccano output=train.spacy output_format=spacy \\
        drop_relations=true

Formats: brat, label_studio, doccano, spacy (DocBin), conll (BIO) (:mod:`ie.data.formats`). Training
reads any of them directly (``data.format=<name> data.path=...``). The config is ``configs/convert.yaml``
(``ie.config.ConvertConfig``); how it checks and writes: :mod:`ie.data.convert`.
"""

from __future__ import annotations


def convert(cfg) -> dict:
    from ie.data.convert import convert as run

    return run(
        cfg.input,
        cfg.input_format,
        cfg.output,
        cfg.output_format,
        schema=cfg.schema,
        segmenter=cfg.segmenter,
        drop_relations=cfg.drop_relations,
        overwrite=cfg.overwrite,
    )


def main() -> None:
    from ie.config import run_command

    run_command("ie.convert", "convert", convert)


if __name__ == "__main__":
    main()
