"""The training layer: a run from a composed config to a run folder.

train (the whole run) · prepare, data_report (the data check before training) · features (training
rows) · fit (one task with the Trainer) · dev_metrics (best-epoch selection) · run_logs (TensorBoard,
per-epoch CSV) · resume (continuing a killed run).
"""
