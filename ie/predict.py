"""``python -m ie.predict``: texts in, entities and relations out, as JSONL or as brat files.

    python -m ie.predict run=models/seeds/<time> input=article.txt            # JSONL on stdout
    python -m ie.predict run=latest input=folder/ output=predictions.jsonl
    cat docs.jsonl | python -m ie.predict run=latest input=- > predictions.jsonl
    python -m ie.predict run=latest input=new_articles/ format=brat output=to_correct/
    python -m ie.predict run=latest input=new_articles/ format=brat output=to_correct/ order=uncertainty  # + ORDER.tsv
    python -m ie.predict run=latest input=new_articles/ format=label_studio output=tasks.json  # pre-annotations
    python -m ie.predict run=latest input=corpus/ output=out.jsonl shard=I num_shards=N    # out-0000I-of-0000N.jsonl
    python -m ie.predict run=latest input=corpus/ output=out.jsonl num_shards=N merge=true # checks, writes out.jsonl
    python -m ie.predict run=latest input=docs.parquet output=predicted/ engine=ray concurrency=4  # Ray Data

Input: plain text files (the id is the file name without ``.txt``), folders of ``*.txt``, ``.jsonl``
files with one ``{"id": ..., "text": ...}`` per line, or ``-`` for stdin (JSONL if its first non-blank
line starts with ``{``, else one text); several as ``input=[a,b]``. Every input is read and checked,
and the output checked, before anything is predicted or written. Formats: :mod:`ie.inference.writers`
(jsonl, brat, and the annotation tools' label_studio, doccano, spacy, conll). ``engine=ray`` reads a parquet
or JSONL file or folder and writes a folder of parquet files, on Ray Data (:mod:`ie.integrations.ray`).
The config is ``configs/predict.yaml`` (``ie.config.PredictConfig``).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def predict(cfg) -> dict:
    """Read the inputs, load the run and write the predictions; returns the counts."""
    from omegaconf import OmegaConf

    from ie.inference.batch import check_documents, check_order, make_writer, run_predictions
    from ie.inference.inputs import InputError, read_inputs
    from ie.inference.predictor import Predictor
    from ie.inference.shards import merge_shards, select_shard, shard_output
    from ie.runs import resolve_run

    if cfg.engine != "local":
        return predict_on_ray(cfg)
    if cfg.num_shards > 1 and cfg.order is not None:
        raise InputError("order=uncertainty ranks all documents together: run it without num_shards")
    if cfg.num_shards > 1 and cfg.format not in ("jsonl", "brat"):
        raise InputError(
            f"num_shards > 1 writes format=jsonl or brat (merge=true joins them); format={cfg.format}: "
            "convert the merged output with python -m ie.convert"
        )
    inputs = OmegaConf.to_container(cfg.input) if OmegaConf.is_config(cfg.input) else cfg.input
    docs = read_inputs(inputs, cfg.input_format)
    if cfg.merge:
        counts = merge_shards(docs, cfg.output, cfg.format, cfg.num_shards)
        log.info(
            "%d documents, each written once by the %d shards -> %s", counts["documents"], counts["shards"], cfg.output
        )
        return counts
    docs = select_shard(docs, cfg.shard, cfg.num_shards)
    output = shard_output(cfg.output, cfg.format, cfg.shard, cfg.num_shards)
    run_dir = resolve_run(cfg.run, cfg.paths.models_dir)
    make_writer(cfg.format, output, cfg.overwrite, drop_relations=cfg.drop_relations).check(docs)
    check_order(cfg.order, output, cfg.format, cfg.overwrite)
    predictor = Predictor.from_pretrained(
        run_dir,
        device=cfg.device,
        precision=cfg.precision,
        decoding=cfg.decoding,
        backend=cfg.backend,
        threads=cfg.threads,
    )
    check_documents(docs, predictor.max_chars)
    counts = run_predictions(
        predictor,
        docs,
        output,
        cfg.format,
        cfg.batch_size,
        cfg.progress,
        cfg.overwrite,
        drop_relations=cfg.drop_relations,
        model_version=f"ie:{run_dir}",
        order=cfg.order,
    )
    where = "stdout" if output == "-" else output
    log.info(
        "%d documents, %d entities, %d relations -> %s (%s, run %s)",
        counts["documents"],
        counts["entities"],
        counts["relations"],
        where,
        cfg.format,
        run_dir,
    )
    if "order" in counts:
        log.info("documents ranked by the model's uncertainty, most uncertain first -> %s", counts["order"])
    return counts


def predict_on_ray(cfg) -> dict:
    """``engine=ray``: the settings it cannot honour refused before Ray is imported or started."""
    from ie.errors import ConfigError
    from ie.runs import resolve_run

    if cfg.engine != "ray":
        raise ConfigError(f"engine must be local or ray, got {cfg.engine!r}")
    local_only = {
        "format": cfg.format != "jsonl",
        "shard": cfg.shard != 0,
        "num_shards": cfg.num_shards > 1,
        "merge": cfg.merge,
        "order": cfg.order is not None,
    }
    for key in (key for key, given in local_only.items() if given):
        raise ConfigError(f"engine=ray writes one folder of parquet files: {key}={cfg[key]} is for engine=local")
    from ie.integrations.ray import predict_with_ray

    counts = predict_with_ray(cfg, resolve_run(cfg.run, cfg.paths.models_dir))
    log.info("%d documents -> %s (parquet, ray_output=%s)", counts["documents"], counts["output"], cfg.ray_output)
    return counts


def main() -> None:
    from ie.config import run_command

    run_command("ie.predict", "predict", predict)


if __name__ == "__main__":
    main()
