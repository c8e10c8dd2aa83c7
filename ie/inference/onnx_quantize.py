"""int8 graphs of an export (``python -m ie.export quantize=int8``), dynamic or static.

Dynamic (the default, ``calibration=null``): ONNX Runtime's dynamic quantisation, per-channel int8
weights for the MatMuls and the embedding tables (24 MB a graph against 91 in fp32), activation scales
computed in each call over the whole call. So the Predictor gives such a graph one window per call
(``OnnxModel.scales_per_call``): a text's result then does not depend on what it was batched with (batched,
a CoNLL04 model's 165 entities on the seed articles differed by 7 between all texts in one call and one per call).

Static (``calibration=train``): QDQ quantisation with the activation scales fixed at export, from the fp32
graph's activations on sentences of the run's own training split (each tensor's range the mean over the
calibration batches of its min and max). Batch-independent without the one-window calls, but further from
fp32 on text unlike its calibration sentences: a CoNLL04 model read the seed articles with 32 entities
changed against fp32, dynamic 10. ``benchmarks/int8_variants.py`` compares the variants; its tables are
in docs/serving.md.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from ie.errors import ConfigError

# ONNX Runtime's dynamic quantisation with per-channel int8 weights, of every op it quantises (the MatMuls
# and the embedding Gathers: 24 MB a graph against 91 in fp32).
DYNAMIC_OPTIONS = {"per_channel": True}
STATIC_OPTIONS = {
    "per_channel": True,
    "op_types_to_quantize": ["MatMul", "Gather"],
    "format": "QDQ",
    "calibrate_method": "MinMax",
    "moving_average": True,
}
CALIBRATION_SPLITS = (None, "train")


def calibration_sentences(run_dir: Path, split: str, limit: int) -> tuple[list, dict]:
    """Up to ``limit`` sentence records of the run's ``split``, evenly spaced over it (words and gold
    entities), and what the manifest records of them."""
    from omegaconf import OmegaConf

    from ie.data.corpus import load_corpus
    from ie.data.schema import Schema
    from ie.runs import CONFIG_FILE

    if split not in CALIBRATION_SPLITS:
        raise ConfigError(f"calibration must be null (dynamic int8) or train, got {split!r}")
    if limit < 1:
        raise ConfigError(f"calibration_sentences must be at least 1, got {limit}")
    config = run_dir / CONFIG_FILE
    if not config.is_file():
        raise ConfigError(
            f"{config}: not found, so no training sentences to calibrate int8 with; export from "
            "the run folder, or quantize without data: calibration=null (dynamic int8)"
        )
    cfg = OmegaConf.load(config)
    try:
        records, splits = load_corpus(cfg.data, Schema.load(cfg.data.schema))
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"{config}: cannot read the run's data to calibrate int8 ({err}); quantize without "
            "data: calibration=null (dynamic int8)"
        ) from None
    if split not in splits or not splits[split]:
        raise ConfigError(
            f"{config}: the run has no '{split}' split to calibrate int8 with; quantize without "
            "data: calibration=null (dynamic int8)"
        )
    sentences = [r for doc_id in splits[split] for r in records[doc_id] if r.words]
    step = max(1, len(sentences) / limit)
    chosen = [sentences[int(i * step)] for i in range(min(limit, len(sentences)))]
    digest = hashlib.sha256("\n".join(" ".join(r.words) for r in chosen).encode()).hexdigest()
    return chosen, {"split": split, "sentences": len(chosen), "of": len(sentences), "words_sha256": digest}


def calibration_feeds(export_folder: Path, sentences: list) -> dict[str, list[dict]]:
    """The inputs each fp32 graph of ``export_folder`` is called with when the Predictor reads the
    sentences: NER on their words, RE on their gold entities' pairs (as in training)."""
    from ie.inference.predictor import Predictor

    predictor = Predictor.from_pretrained(export_folder, backend="onnx", precision="fp32")
    words = [r.words for r in sentences]
    feeds: dict[str, list[dict]] = {}
    if predictor.ner_model is not None:
        predictor.ner_model.recorded = feeds.setdefault("ner", [])
        predictor.word_tags(words)
    if predictor.re_model is not None and predictor.shared_head is None:  # a shared head has no graph
        predictor.re_model.recorded = feeds.setdefault("re", [])
        predictor.classify_pairs(words, [r.entities for r in sentences])
    return feeds


class _Feeds:
    """ONNX Runtime's CalibrationDataReader protocol over recorded inputs."""

    def __init__(self, feeds: list[dict]):
        self._next = iter(feeds)

    def get_next(self):
        return next(self._next, None)

    def rewind(self):  # pragma: no cover - MinMax reads the data once
        raise NotImplementedError


def quantize(source: Path, target: Path, feeds: list[dict] | None, op_types: list[str] | None = None) -> None:
    """``source`` (fp32) as int8 in ``target``: static with ``feeds`` (its recorded inputs), quantising
    ``op_types`` (default: :data:`STATIC_OPTIONS`'), else dynamic."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static

    root = logging.getLogger()  # the quantiser logs to it: a line per tensor, and advice on pre-processing
    root.addFilter(_quantiser_chatter)
    try:
        if feeds is None:
            quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, **DYNAMIC_OPTIONS)
            return
        if not feeds:
            raise ConfigError(
                f"{source}: the calibration sentences gave this graph no input (no gold entity "
                "pairs for RE?); quantize without data: calibration=null (dynamic int8)"
            )
        # the manifest records STATIC_OPTIONS: the call reads every setting from there
        quantize_static(
            str(source),
            str(target),
            _Feeds(feeds),
            quant_format=QuantFormat[STATIC_OPTIONS["format"]],
            per_channel=STATIC_OPTIONS["per_channel"],
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=op_types or STATIC_OPTIONS["op_types_to_quantize"],
            calibrate_method=CalibrationMethod[STATIC_OPTIONS["calibrate_method"]],
            # each tensor's range: the mean over the batches of its min and max (the calibrator
            # keeps only those two numbers per tensor and batch)
            extra_options={"CalibMovingAverage": STATIC_OPTIONS["moving_average"]},
        )
    finally:
        root.removeFilter(_quantiser_chatter)


def _quantiser_chatter(record: logging.LogRecord) -> bool:
    return record.levelno > logging.WARNING or (
        record.levelno == logging.WARNING
        and "consider to run pre-processing" not in record.getMessage()
        and "pre-processing before quantization" not in record.getMessage()
    )
