"""The inference layer: text in, entities and relations with character offsets out.

predictor (the Predictor) · loading (backends, precision, checks) · decoding (tags by name, spans) ·
token_budget (batches by padded tokens) · results (Entity, Relation, Prediction) · inputs (text rules,
documents from files) · writers (output formats) · batch (documents through a Predictor into files).
"""
