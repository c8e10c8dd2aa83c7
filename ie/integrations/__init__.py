"""Adapters that run a trained run inside other libraries: ``spacy`` (the ``"ie"`` pipeline component) and
``ray`` (batch prediction on Ray Data).

Each imports its library at its top, so the rest of the package imports an adapter only where it is asked
for (``python -m ie.predict engine=ray``), and spaCy finds its component through an entry point.
"""
