"""Information extraction for news on Russia-Central Asia cooperation: NER + relation classification."""

__all__ = ["Predictor", "Prediction", "Entity", "Relation", "Schema"]


def __getattr__(name):
    # Lazy so that `import ie.schema` or `python -m ie.validate` do not pay for importing torch.
    if name in ("Predictor", "Prediction", "Entity", "Relation"):
        from ie import predictor

        return getattr(predictor, name)
    if name == "Schema":
        from ie.schema import Schema

        return Schema
    raise AttributeError(f"module 'ie' has no attribute {name!r}")
