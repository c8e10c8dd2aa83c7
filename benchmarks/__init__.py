"""Speed and memory benchmarks: ``speed.py`` (the command), ``measure_inference.py`` and
``measure_training.py`` (what a worker process measures), ``agreement.py`` and ``report.py`` (the page, with
the bars of ``bars.json``), ``memory_shapes.py`` (resident memory over batch shapes)."""
