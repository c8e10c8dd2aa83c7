"""Load a trained run and extract entities and relations from raw text.

>>> predictor = Predictor.from_pretrained("models/seeds/2026-11-23_10-00-00")
>>> result = predictor("Denis Manturov met Emomali Rahmon in Dushanbe.")
>>> [(e.label, e.text) for e in result.entities]

Offsets index into the string you passed. Sentences longer than the encoder window are read in
overlapping windows, never cut. What each kind of input gives is in :mod:`ie.inference.inputs`;
backends and precisions are in :mod:`ie.inference.loading` (torch) and :mod:`ie.inference.onnx_backend`
(ONNX Runtime, no torch needed: this module imports torch only for a torch backend).

Thread safety: one Predictor may be called from many threads at once (load it once per process and
share it). Tokenisation is serialised by a lock, since a fast (Rust) tokenizer may raise "Already
borrowed" when used concurrently; the models run in inference mode with no shared mutable state.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ie.data.bio import spans_to_tags
from ie.data.schema import Schema
from ie.data.text import DEFAULT_SEGMENTER, check_segmenter, split_sentences
from ie.encoding import shapes
from ie.encoding.align import PAD_TO_MULTIPLE, WordPieces, encode_windows, neighbour_context, pad_ids
from ie.encoding.spans import candidate_spans
from ie.errors import ConfigError
from ie.inference import run_checks, runners
from ie.inference.decoding import COUNTED, SPAN_DECODERS, WordEntity, check_decoding, decode_many, scored_entities
from ie.inference.decoding import DEFAULTS as DEFAULT_DECODINGS
from ie.inference.inputs import DEFAULT_MAX_CHARS, check_text
from ie.inference.pair_reading import PairReading, log_softmax, softmax
from ie.inference.results import Entity, Prediction, Relation
from ie.inference.token_budget import token_budget_batches
from ie.precision import resolve_precision

log = logging.getLogger(__name__)

# Padded tokens per encoder batch, by precision: activation memory follows it (the same bytes in both precisions),
# and larger batches are barely faster. int8 runs on ONNX Runtime: 512 there, no slower than 1,024 on the seeds.
DEFAULT_MAX_BATCH_TOKENS = {"bf16": 2048, "fp32": 1024, "int8": 512}
# backend=onnx: the graphs pool pair and span ranges densely (ranges x tokens x hidden, ie/models/pooling.py),
# so their batches also keep ranges x padded width under this (12 MiB per such tensor at hidden 384; with
# 16,384, NER+RE int8 on 100 seed documents peaked 35 MiB higher)
ONNX_MAX_RANGE_TOKENS = 1 << 13
SENTENCES_PER_CHUNK = 1024  # per pass through NER then RE: bounds memory on huge inputs, sorts well enough
# Which RE classes a pair may take: "schema", those its entity types admit (recorded with predictions, so
# a comparison keeps apart predictions made before, when the argmax ran over "all" classes).
RELATION_CLASSES = "schema"
__all__ = ["Entity", "Prediction", "Predictor", "Relation"]


def _backend_of(*models) -> str:
    """``onnx`` where a model is an exported graph (no bf16 there), else ``auto``."""
    return "onnx" if any(getattr(m, "backend", None) == "onnx" for m in models) else "auto"


class Predictor(PairReading):
    """Entities and relations from text, with the NER and RE checkpoints of one run."""

    threads: int | None = None  # cores per model call, as from_pretrained loaded it (None: the runtime's default)

    def __init__(
        self,
        schema: Schema,
        ner_model=None,
        ner_tokenizer=None,
        re_model=None,
        re_tokenizer=None,
        ner_max_length: int = 256,
        ner_stride: int = 32,
        re_max_length: int = 256,
        device: str = "cpu",
        precision: str = "auto",
        max_chars: int | None = DEFAULT_MAX_CHARS,
        decoding: str | None = None,
        max_batch_tokens: int | None = None,
        ner_word_shapes: str | None = None,
        re_word_shapes: str | None = None,
        segmenter: str = DEFAULT_SEGMENTER,
        ner_context: int = 0,
        tag_transitions: Sequence[Sequence[int]] | None = None,
        ner_head: str = "token",
        max_span_words: int = 0,
    ):
        precision, self.precision_reason = resolve_precision(precision, device, _backend_of(ner_model, re_model))
        if ner_model is None and re_model is None:
            raise ConfigError("a Predictor needs an NER model, an RE model or both")
        if max_chars is not None and max_chars < 1:
            raise ConfigError(f"max_chars must be >= 1 or None, got {max_chars}")
        max_batch_tokens = DEFAULT_MAX_BATCH_TOKENS[precision] if max_batch_tokens is None else max_batch_tokens
        if max_batch_tokens < 1:
            raise ConfigError(f"max_batch_tokens must be >= 1, got {max_batch_tokens}")
        self.schema = schema
        self.segmenter = check_segmenter(segmenter)  # how text becomes sentences and words (ie.data.text)
        self.device = device
        self.precision = precision
        self._read_ner_as(ner_head, max_span_words, decoding, ner_model is not None and tag_transitions is None)
        self.max_chars, self.max_batch_tokens = max_chars, max_batch_tokens
        # a relation head over the NER pass's hidden states (model.shared_encoder): no encoder of its own
        self.shared_head = re_model if getattr(re_model, "shares_encoder", False) else None
        # each model behind one call, NumPy inputs -> float32 logits, whatever runs it
        self._run = {
            task: runners.runner(model, device, precision)
            for task, model in (("ner", ner_model), ("re", re_model))
            if model is not None and model is not self.shared_head
        }
        self._check_shared_head(ner_head)
        self.ner_model = getattr(self._run.get("ner"), "model", None)
        self.re_model = self.shared_head or getattr(self._run.get("re"), "model", None)
        self.ner_tokenizer, self.re_tokenizer = ner_tokenizer, re_tokenizer
        self.ner_max_length, self.ner_stride, self.re_max_length = ner_max_length, ner_stride, re_max_length
        self.ner_context = ner_context  # subwords of the neighbouring sentences around each NER window
        self.tag_transitions = tag_transitions  # of the NER training data, for decoding=viterbi_transitions
        # the word shape scheme each model was trained with (ie.encoding.shapes), None: no shapes
        self.word_shapes = {"ner": ner_word_shapes, "re": re_word_shapes}
        for scheme in filter(None, self.word_shapes.values()):
            shapes.scheme(scheme)
        if ner_model is not None:
            self._ner_labels = [ner_model.config.id2label[i] for i in range(ner_model.config.num_labels)]
        if re_model is not None:
            self._re_labels = [re_model.config.id2label[i] for i in range(re_model.config.num_labels)]
        self._allowed_cache: dict[tuple, np.ndarray] = {}  # (head type, tail type, head first) -> classes
        self.lost_pairs = 0  # candidate pairs too far apart for the RE window, since load
        self.backends = {task: runner.backend for task, runner in self._run.items()}  # what runs each task
        if self.shared_head is not None:
            self.backends["re"] = f"shared ({self.backends['ner']})"
        self._max_range_tokens = {
            task: ONNX_MAX_RANGE_TOKENS if backend == "onnx" else None for task, backend in self.backends.items()
        }
        # a graph that scales its activations per call (dynamic int8) reads one window per call, so that a
        # text's result does not depend on what else is predicted with it
        self._windows_per_call = {
            task: 1 if getattr(runner, "scales_per_call", False) else None for task, runner in self._run.items()
        }
        self._tokenizer_lock = threading.Lock()  # see the module docstring: thread safety

    def _read_ner_as(self, ner_head: str, max_span_words: int, decoding: str | None, no_transitions: bool) -> None:
        """The NER head (token: BIO tags; span: typed spans) and decoding, checked against each other."""
        if ner_head not in DEFAULT_DECODINGS:
            raise ConfigError(f"ner_head must be one of {list(DEFAULT_DECODINGS)}, got {ner_head!r}")
        if ner_head == "span" and max_span_words < 1:
            raise ConfigError(f"a span NER head needs max_span_words >= 1, got {max_span_words}")
        self.ner_head, self.max_span_words = ner_head, max_span_words
        decoding = DEFAULT_DECODINGS[ner_head] if decoding is None else decoding
        self.decoding = check_decoding(decoding, ner_head)
        if decoding in COUNTED and no_transitions:
            raise ConfigError(
                f"decoding={decoding}: this NER checkpoint has no tag transition counts (ie.json "
                "tag_transitions, written by training since they exist): retrain it or decode with "
                "viterbi"
            )

    def _check_shared_head(self, ner_head: str) -> None:
        if self.shared_head is None:
            return
        if "ner" not in self._run or ner_head != "token":
            raise ConfigError(
                "a shared-encoder relation head reads its run's token NER model: load both (tasks=('ner', 're'))"
            )
        if not getattr(self._run["ner"], "gives_hidden", False):
            raise ConfigError(
                f"this {self._run['ner'].backend} NER model gives no hidden states for the "
                "shared-encoder relation head to read: re-export the run (python -m ie.export)"
            )

    # --- loading --------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        run_dir: str | Path,
        device: str = "cpu",
        precision: str = "auto",
        max_chars: int | None = DEFAULT_MAX_CHARS,
        tasks: Sequence[str] = ("ner", "re"),
        decoding: str | None = None,
        backend: str = "auto",
        max_batch_tokens: int | None = None,
        threads: int | None = None,
    ) -> Predictor:
        """Load ``run_dir/ner`` and ``run_dir/re`` (either may be absent) from safetensors, offline;
        ``tasks`` picks which of the two to load (``("ner",)``: only ``ner/``, never ``re/``).

        ``decoding``: how NER output is read (:mod:`ie.inference.decoding`); ``None``: as the checkpoint was
        trained to be read (its ``ie.json``), its head's default for checkpoints from before that was recorded.
        ``backend``: ``"lean"``, ``"transformers"`` (:mod:`ie.inference.loading`), ``"onnx"`` (the run's
        export, :mod:`ie.inference.onnx_backend`) or ``"auto"`` (default: onnx where the export was measured
        faster on this CPU at this precision, else lean where it can, else transformers). ``precision``: ``"auto"``
        (default: bf16 where the device runs it natively, else fp32; :mod:`ie.precision`), ``"fp32"``, ``"bf16"``
        or ``"int8"`` (needs onnx); ``self.precision`` says which ran and ``self.precision_reason`` why.
        ``self.backends`` says which backend ran. ``max_batch_tokens``: padded tokens per encoder batch; ``None``
        takes 2,048 in bf16 and 1,024 in fp32, the same activation memory. ``threads``: cores one model call
        uses (``None``: all); fewer, with several calls at once, keeps every core busy through the single-
        threaded steps (tokenising, decoding). Torch has one pool per process: a torch backend sets it."""
        precision, reason = resolve_precision(precision, device, backend)
        loaded = runners.load_run(run_dir, tasks, precision, backend, threads)
        kwargs: dict = {
            "device": device,
            "precision": precision,
            "max_chars": max_chars,
            "decoding": decoding,
            "max_batch_tokens": max_batch_tokens,
        }
        if "ner" in loaded:
            ner = loaded["ner"]
            if decoding is None:
                kwargs["decoding"] = ner.info.extra.get("decoding")
            kwargs.update(
                ner_head=ner.info.extra.get("ner_head", "token"),
                max_span_words=int(ner.info.extra.get("max_span_words", 0)),
                ner_model=ner.model,
                ner_tokenizer=ner.tokenizer,
                ner_max_length=ner.info.max_length,
                ner_stride=ner.info.stride,
                ner_word_shapes=ner.info.extra.get("word_shapes"),
                ner_context=int(ner.info.extra.get("context", 0)),
                tag_transitions=ner.info.extra.get("tag_transitions"),
            )
        if "re" in loaded:
            rel = loaded["re"]
            kwargs.update(
                re_model=rel.model,
                re_tokenizer=rel.tokenizer,
                re_max_length=rel.info.max_length,
                re_word_shapes=rel.info.extra.get("word_shapes"),
            )
        segmenter = run_checks.segmenter_of(next(iter(loaded.values())).info)
        predictor = cls(run_checks.schema_of(loaded), segmenter=segmenter, **kwargs)
        predictor.threads, predictor.precision_reason = threads, reason
        log.info("Predictor of %s: %s (%s)", run_dir, precision, reason)
        return predictor

    # --- word-level API (used by evaluation) ------------------------------------------------------
    def tag_words(
        self, sentences: Sequence[Sequence[str]], batch_size: int = 32, documents: Sequence | None = None
    ) -> list[list[WordEntity]]:
        """Entities of pre-tokenised sentences, as word spans."""
        return [
            scored_entities(tags, probs)
            for tags, probs in zip(*self.word_tags(sentences, batch_size, documents=documents))
        ]

    def word_tags(
        self,
        sentences: Sequence[Sequence[str]],
        batch_size: int = 32,
        progress: bool = False,
        documents: Sequence | None = None,
    ) -> tuple[list[list[str]], list[list[float]]]:
        """The BIO tag and its probability for every word, decoded as ``self.decoding`` says (see
        :mod:`ie.inference.decoding`). A token head reads each word at its first subword in the window that
        owns the word; a span head scores every candidate span in the window that owns its first word, and
        a word gets its entity's probability, or outside one the probability that it alone is no entity.
        ``documents`` (each sentence's document, sentences in reading order) gives a model trained with
        context (``ner_context``) the neighbouring sentences around each one."""
        if self.ner_model is None:
            raise RuntimeError("this Predictor was loaded without an NER checkpoint; it cannot find entities")
        jobs = self._ner_windows(sentences, documents)
        # Length-sorted batches pad less; results are placed by index so order does not matter.
        jobs.sort(key=lambda job: len(job[1].input_ids))
        if self.ner_head == "span":
            return self._span_word_tags(sentences, jobs, batch_size, progress)
        return self._token_word_tags(sentences, jobs, batch_size, progress)[:2]

    def _tags_and_states(
        self, sentences: Sequence[Sequence[str]], documents: Sequence | None, batch_size: int, progress: bool
    ) -> tuple[list, list, dict]:
        """:meth:`word_tags` of a token head with the windows' hidden states kept, for a shared relation head."""
        jobs = sorted(self._ner_windows(sentences, documents), key=lambda job: len(job[1].input_ids))
        return self._token_word_tags(sentences, jobs, batch_size, progress, keep_hidden=True)

    def _token_word_tags(
        self,
        sentences: Sequence[Sequence[str]],
        jobs: list[tuple],
        batch_size: int,
        progress: bool,
        keep_hidden: bool = False,
    ) -> tuple[list, list, dict]:
        """:meth:`word_tags` of a token head, and with ``keep_hidden`` each sentence's windows with their last
        hidden states (``{sentence: [(window, positions x hidden)]}``, in reading order) for a shared head."""
        encoded: dict[int, list] = {}
        # One row per word of all sentences; each window writes the rows of the words it owns.
        offsets = [0]
        for words in sentences:
            offsets.append(offsets[-1] + len(words))
        log_probs = np.zeros((offsets[-1], len(self._ner_labels)), dtype=np.float32)
        for batch, inputs in self._ner_batches(jobs, batch_size, progress):
            if keep_hidden:
                logits, hidden = self._run["ner"].with_hidden(inputs)
                for row, (s, window, _) in enumerate(batch):
                    encoded.setdefault(s, []).append((window, hidden[row, : len(window.input_ids)]))
            else:
                logits = self._run["ner"](inputs)
            rows, positions, targets = [], [], []
            for row, (s, window, _) in enumerate(batch):
                for w, pos in window.owned_first_subwords():
                    rows.append(row)
                    positions.append(pos)
                    targets.append(offsets[s] + w)
            log_probs[np.asarray(targets, dtype=np.intp)] = log_softmax(
                logits[np.asarray(rows, dtype=np.intp), np.asarray(positions, dtype=np.intp)]
            )
        per_sentence = [log_probs[a:b] for a, b in zip(offsets, offsets[1:])]
        best = decode_many(per_sentence, self._ner_labels, self.decoding, self.tag_transitions)
        flat = np.array([k for path in best for k in path], dtype=np.intp)
        chosen = np.exp(log_probs[np.arange(len(flat)), flat]).tolist()
        tags = [[self._ner_labels[k] for k in path] for path in best]
        probs = [chosen[a:b] for a, b in zip(offsets, offsets[1:])]
        for windows in encoded.values():
            windows.sort(key=lambda item: item[0].word_start)
        return tags, probs, encoded

    def _ner_windows(self, sentences: Sequence[Sequence[str]], documents: Sequence | None) -> list[tuple]:
        """``(sentence index, window, token types or None)`` for every NER encoder window."""
        jobs = []
        with self._tokenizer_lock:
            pieces = WordPieces.many(self.ner_tokenizer, sentences)
            around = neighbour_context(pieces, documents or range(len(sentences)), self.ner_context)
            for s, words in enumerate(sentences):
                if words:
                    for window in encode_windows(
                        self.ner_tokenizer, words, self.ner_max_length, self.ner_stride, pieces[s], *around[s]
                    ):
                        jobs.append((s, window, self._token_types("ner", words, window.word_ids)))
        return jobs

    def _ner_batches(self, jobs: list[tuple], batch_size: int, progress: bool, ranges: list[int] | None = None):
        """``(jobs of the batch, padded encoder inputs)`` within the token budget (and the range budget,
        ``ranges`` being each window's candidate spans)."""
        pad_id = self.ner_tokenizer.pad_token_id or 0
        lengths = [len(w.input_ids) for _, w, _ in jobs]
        for batch in token_budget_batches(
            jobs,
            lengths,
            self._windows_per_call["ner"] or batch_size,
            self.max_batch_tokens,
            progress and "NER",
            ranges,
            self._max_range_tokens.get("ner"),
        ):
            ids, mask = pad_ids([w.input_ids for _, w, _ in batch], pad_id, PAD_TO_MULTIPLE)
            inputs = {"input_ids": ids, "attention_mask": mask}
            if self.word_shapes["ner"]:
                inputs["token_type_ids"] = pad_ids([types for _, _, types in batch], 0, PAD_TO_MULTIPLE)[0]
            yield batch, inputs

    def _span_word_tags(
        self, sentences: Sequence[Sequence[str]], jobs: list[tuple], batch_size: int, progress: bool
    ) -> tuple[list[list[str]], list[list[float]]]:
        """:meth:`word_tags` of a span head: every candidate span scored, then decoded to entities."""
        found: list[list[WordEntity]] = [[] for _ in sentences]  # candidates whose best label is a type
        alone = [[1.0] * len(words) for words in sentences]  # P(no entity) of each word's one-word span
        ranges = (
            [len(candidate_spans(w, self.max_span_words)) for _, w, _ in jobs]
            if self._max_range_tokens.get("ner")
            else None
        )
        for batch, inputs in self._ner_batches(jobs, batch_size, progress, ranges):
            spans = [
                (row, s, candidate)
                for row, (s, window, _) in enumerate(batch)
                for candidate in candidate_spans(window, self.max_span_words)
            ]
            inputs.update(
                span_rows=np.array([row for row, _, _ in spans], dtype=np.int64),
                span_bounds=np.array([c[2:] for _, _, c in spans], dtype=np.int64).reshape(-1, 2),
                span_widths=np.array([c[1] - c[0] for _, _, c in spans], dtype=np.int64),
            )
            best = softmax(self._run["ner"](inputs))
            for (_, s, (i, j, *_)), label, score, none in zip(
                spans, best.argmax(-1).tolist(), best.max(-1).tolist(), best[:, 0].tolist()
            ):
                if label:
                    found[s].append((i, j, self._ner_labels[label], score))
                if j == i + 1:
                    alone[s][i] = none
        tags, probs = [], []
        for words, candidates, none in zip(sentences, found, alone):
            entities = SPAN_DECODERS[self.decoding](candidates)
            tags.append(spans_to_tags(len(words), [(i, j, label) for i, j, label, _ in entities]))
            for i, j, _, score in entities:
                none[i:j] = [score] * (j - i)
            probs.append(none)
        return tags, probs

    def _token_types(self, task: str, words: Sequence[str], word_ids: Sequence[int | None]) -> list[int] | None:
        """The word shapes of a window's positions, for a model trained with them (else None)."""
        scheme = self.word_shapes[task]
        return shapes.token_types(word_ids, shapes.word_shapes(words, scheme)) if scheme else None

    # --- text API ---------------------------------------------------------------------------------
    def _chunks(self, texts: Sequence[str]):
        """``(text index, sentence)`` lists of about ``SENTENCES_PER_CHUNK`` sentences: through the models a
        chunk at a time, memory stays flat however many texts come in one call. A text stays in one chunk
        unless it alone is longer, so its sentences see their neighbours (``ner_context``)."""
        chunk: list = []
        for d, text in enumerate(texts):
            sentences = split_sentences(text, self.segmenter)
            if chunk and len(chunk) + len(sentences) > SENTENCES_PER_CHUNK:
                yield chunk
                chunk = []
            for sent in sentences:
                if len(chunk) >= SENTENCES_PER_CHUNK:  # a text longer than a chunk on its own: cut it
                    yield chunk
                    chunk = []
                chunk.append((d, sent))
        if chunk:
            yield chunk

    def __call__(self, text: str) -> Prediction:
        return self.predict([text])[0]

    def predict(self, texts: Sequence[str], batch_size: int = 32) -> list[Prediction]:
        """Predictions for each text; what each kind of input gives is in :mod:`ie.inference.inputs`."""
        return [prediction for prediction, _ in self.predict_with_word_confidence(texts, batch_size)]

    def predict_with_word_confidence(
        self, texts: Sequence[str], batch_size: int = 32
    ) -> list[tuple[Prediction, list[float]]]:
        """Each prediction with the probability of each of its words' decoded tags, in reading order: how sure
        the model was outside its entities too (:mod:`ie.inference.uncertainty` ranks documents by it)."""
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise TypeError(f"predict() takes a list of strings, got {type(texts).__name__}")
        for i, text in enumerate(texts):
            check_text(text, f"texts[{i}]", self.max_chars)
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        out_entities: list[list[Entity]] = [[] for _ in texts]
        out_relations: list[list[Relation]] = [[] for _ in texts]
        confidences: list[list[float]] = [[] for _ in texts]
        for chunk in self._chunks(texts):
            words = [[tok.text for tok in sent.tokens] for _, sent in chunk]
            if self.shared_head is None:
                tags, probs = self.word_tags(words, batch_size, documents=[d for d, _ in chunk])
                ents = [scored_entities(t, p) for t, p in zip(tags, probs)]
                rels = self.classify_pairs(words, ents, batch_size)
            else:  # one encoder pass: the relation head reads the NER pass's hidden states
                tags, probs, encoded = self._tags_and_states(words, [d for d, _ in chunk], batch_size, False)
                ents = [scored_entities(t, p) for t, p in zip(tags, probs)]
                rels = self._shared_relations(words, ents, encoded)
            for (d, sent), sent_ents, sent_rels, sent_probs in zip(chunk, ents, rels, probs):
                objs = []
                for start, end, label, score in sent_ents:
                    a, b = sent.tokens[start].start, sent.tokens[end - 1].end
                    objs.append(Entity(label, a, b, texts[d][a:b], score))
                out_entities[d].extend(objs)
                out_relations[d].extend(Relation(label, objs[h], objs[t], score) for h, t, label, score in sent_rels)
                confidences[d].extend(sent_probs)
        return [(Prediction(text, e, r), c) for text, e, r, c in zip(texts, out_entities, out_relations, confidences)]
