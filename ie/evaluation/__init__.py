"""The evaluation layer: a run's predictions of a split, their scores and what they tell.

predictions (per-sentence records) · metrics (counts -> P/R/F1) · scoring (every metric of a run) ·
error_analysis · report, html_report, plots, outputs (the files of one evaluation) · compare,
bootstrap, compare_report (configs against a baseline) · card (the model card of a run).
"""
