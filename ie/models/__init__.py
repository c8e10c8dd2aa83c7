"""The model layer: what trains, what serves, and the checkpoint folders between them.

modeling (token classification for NER, the marker relation model for RE) · pairs (pair
representations by name) · lean_bert (BERT-family checkpoints for inference without the transformers
modeling stack) · dropout (fast CPU dropout for training) · checkpoint (atomic saving, checked
loading) · transfer (``model.init_from``).
"""
