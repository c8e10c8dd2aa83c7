"""spaCy imported without torch where torch is not loaded yet.

thinc, under spaCy, imports torch whenever it is installed (265 MiB and seconds, measured with
``python -c "import spacy"``), and what this project runs of spaCy (rule-based tokenizer, sentencizer,
DocBin) never uses it. So an ONNX service, ``ie.convert`` or ``ie.predict`` on an export would carry torch
only because spaCy was imported. A process that has imported torch already (training, a torch backend)
imports spaCy as it is. thinc then reads torch as absent for the life of the process: what it offers with
torch (PyTorch-wrapped layers, spacy-transformers pipelines) is not used here; ``import torch`` itself
still works afterwards.
"""

from __future__ import annotations

import importlib
import sys
import threading

_lock = threading.Lock()


def import_spacy():
    with _lock:
        if "spacy" in sys.modules or "torch" in sys.modules:
            return importlib.import_module("spacy")
        sys.modules["torch"] = None  # import torch raises ImportError, as where it is not installed
        try:
            return importlib.import_module("spacy")
        finally:
            if sys.modules.get("torch", 0) is None:
                del sys.modules["torch"]
