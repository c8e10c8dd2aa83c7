"""Information extraction for news on Russia-Central Asia cooperation: NER + relation classification.

The package is grouped by layer, each importing only from those before it:

    data/        schema, readers (brat, CoNLL04), validation, records, splits, HF datasets
    encoding/    words -> subword windows, entity markers
    models/      the training models, the lean inference encoder, checkpoints, transfer
    inference/   the Predictor, its loading and decoding, batch prediction
    evaluation/  predictions of a split, scores, error analysis, reports, comparisons, model cards
    training/    a training run: data check, features, the Trainer, logs, resume

Top-level modules are the shared base (``errors``, ``runs``, ``config``, ``atomic``, ``distributed``) and
the ``python -m ie.<command>`` entry points (``predict``, ``validate``, ``card``, ``schema``).
"""

from importlib import import_module

__all__ = ["Predictor", "Prediction", "Entity", "Relation", "Schema"]
# Lazy, so that `import ie` and the light commands (`python -m ie.validate`) do not pay for importing torch.
_EXPORTS = {
    "Predictor": "ie.inference.predictor",
    "Prediction": "ie.inference.results",
    "Entity": "ie.inference.results",
    "Relation": "ie.inference.results",
    "Schema": "ie.data.schema",
}


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'ie' has no attribute {name!r}")
