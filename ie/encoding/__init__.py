"""The encoding layer: words -> the subword inputs of an encoder, shared by training and inference.

tokenization (the Rust tokenizer calls) · align (overlapping windows, first-subword labels, padding) ·
markers (every entity of a sentence marked for relation classification) · coverage (what the windows
cannot hold).
"""
