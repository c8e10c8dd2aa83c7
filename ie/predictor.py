"""Load a trained run and extract entities and relations from raw text.

>>> predictor = Predictor.from_pretrained("models/seeds/2026-11-23_10-00-00")
>>> result = predictor("Denis Manturov met Emomali Rahmon in Dushanbe.")
>>> [(e.label, e.text) for e in result.entities]

Offsets index into the string you passed. Sentences longer than the encoder window are read in
overlapping windows, never cut. What each kind of input gives:

* ``""`` or only (Unicode) whitespace: an empty :class:`Prediction`;
* control characters, zero-width characters, emoji, combining marks, any script, HTML: read as
  text (markup is not stripped); a word the tokenizer maps to nothing is read as the unknown token;
* ``None`` or any non-string: ``TypeError``; a string with a lone surrogate (not valid Unicode):
  ``ValueError`` naming its position;
* text longer than ``max_chars`` (default 200,000 characters, about 30,000 words, several times
  the longest news article): ``ValueError`` naming both lengths. Pass ``max_chars=None`` to read
  text of any length; time and memory then grow with it.

Thread safety: one Predictor may be called from many threads at once (load it once per process and
share it). Tokenisation is serialised by a lock, since a fast (Rust) tokenizer may raise "Already
borrowed" when used concurrently; the models run in inference mode with no shared mutable state.
"""

from __future__ import annotations

import json
import logging
import threading
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Sequence

import torch
from tqdm.auto import tqdm

from ie import lean_bert
from ie.align import PAD_TO_MULTIPLE, WordPieces, encode_windows, pad_ids
from ie.checkpoint import CheckpointError, read_checkpoint_info
from ie.decoding import check_decoding, decode_many
from ie.markers import ENCODING as RE_ENCODING, collate_windows, reachable_pairs
from ie.schema import NO_RELATION, Schema
from ie.text import split_sentences
from ie.tokenization import SavedTokenizer

log = logging.getLogger(__name__)

DEFAULT_MAX_CHARS = 200_000
# bf16: matmuls, attention and GELU in bf16, residual stream and LayerNorms in fp32 (autocast's recipe).
# The lean backend stores its matmul and embedding weights in bf16 (half the memory, no per-call casts);
# transformers models keep fp32 weights, embedding tables rounded to bf16 values, and run under autocast:
# the same arithmetic. Scores are always read in fp32.
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
BACKENDS = ("auto", "lean", "transformers")
# Padded tokens per encoder batch, by precision: activation memory follows it (so the same bytes in both
# precisions), and beyond it larger batches are barely faster.
DEFAULT_MAX_BATCH_TOKENS = {"bf16": 2048, "fp32": 1024}
SENTENCES_PER_CHUNK = 1024  # per pass through NER then RE: bounds memory on huge inputs, sorts well enough
WordEntity = tuple[int, int, str, float]  # word start, word end (exclusive), label, score
WordRelation = tuple[int, int, str, float]  # head entity index, tail entity index, label, score


@dataclass(frozen=True)
class Entity:
    label: str
    start: int
    end: int
    text: str
    score: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Relation:
    label: str
    head: Entity
    tail: Entity
    score: float

    def to_dict(self) -> dict:
        return {"label": self.label, "head": self.head.to_dict(), "tail": self.tail.to_dict(), "score": self.score}


@dataclass(frozen=True)
class Prediction:
    text: str
    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"text": self.text, "entities": [e.to_dict() for e in self.entities],
                "relations": [r.to_dict() for r in self.relations]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


def _batches(items: Sequence, lengths: Sequence[int], size: int, max_tokens: int, progress: str | bool = False):
    """Consecutive slices of length-sorted ``items`` of at most ``size`` items and at most ``max_tokens``
    padded tokens (an item longer than that goes alone): activation memory follows the padded tokens,
    so a batch of long sentences gets fewer of them. With ``progress`` (a label), a progress bar."""
    starts, count = [0], 0
    for i, n in enumerate(lengths):
        if count and (count == size or (count + 1) * n > max_tokens):
            starts.append(i)
            count = 0
        count += 1
    bounds = list(zip(starts, starts[1:] + [len(items)])) if items else []
    for a, b in tqdm(bounds, desc=progress or None, unit="batch", disable=not progress, leave=False):
        yield items[a:b]


def decode_bio(tags: Sequence[str], scores: Sequence[float]) -> list[WordEntity]:
    """Spans from BIO tags. An ``I-X`` that does not continue an ``X`` opens a new entity (as
    conlleval does) rather than being dropped; the span score is the mean word probability."""
    spans, current = [], None
    for w, tag in enumerate(list(tags) + ["O"]):
        if current and (tag == "O" or tag.startswith("B-") or tag[2:] != current[2]):
            start, label = current[0], current[2]
            spans.append((start, w, label, float(sum(scores[start:w]) / (w - start))))
            current = None
        if tag != "O" and current is None:
            current = (w, w + 1, tag[2:])
    return spans


def _load_model(path: Path, task: str, dtype: torch.dtype, backend: str):
    """The model of one checkpoint folder, run by ``backend`` (see ``Predictor.from_pretrained``)."""
    if backend != "transformers":
        try:
            return lean_bert.load(path, dtype)
        except lean_bert.Unsupported as why:
            if backend == "lean":
                raise CheckpointError(f"backend='lean' cannot run this checkpoint: {why}") from None
            log.info("%s; loading it with transformers", why)
    if task == "ner":
        from transformers import AutoModelForTokenClassification

        return AutoModelForTokenClassification.from_pretrained(path, use_safetensors=True)
    from ie.modeling import MarkerRelationModel

    return MarkerRelationModel.from_pretrained(path, use_safetensors=True)


def _round_embeddings(model: torch.nn.Module) -> None:
    """Embedding tables rounded to bf16 values (kept in fp32), for a transformers model run in bf16.
    Autocast leaves embedding lookups in fp32 but casts every matmul weight to bf16; the lean backend
    stores both in bf16. Rounding the tables gives the two backends the same arithmetic in bf16."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Embedding):
                module.weight.copy_(module.weight.to(torch.bfloat16))


def _check_labels(path: Path, model, expected: list[str]) -> None:
    actual = [model.config.id2label[i] for i in range(model.config.num_labels)]
    if actual != expected:
        raise CheckpointError(f"{path}: model labels {actual} differ from the labels of its schema {expected}")


class Predictor:
    """Entities and relations from text, with the NER and RE checkpoints of one run."""

    def __init__(self, schema: Schema, ner_model=None, ner_tokenizer=None, re_model=None, re_tokenizer=None,
                 ner_max_length: int = 256, ner_stride: int = 32, re_max_length: int = 256,
                 device: str = "cpu", precision: str = "fp32", max_chars: int | None = DEFAULT_MAX_CHARS,
                 decoding: str = "viterbi", max_batch_tokens: int | None = None):
        if precision not in DTYPES:
            raise ValueError(f"precision must be one of {list(DTYPES)}, got {precision!r}")
        if ner_model is None and re_model is None:
            raise ValueError("a Predictor needs an NER model, an RE model or both")
        self.schema = schema
        self.device = torch.device(device)
        self.precision = precision
        self.decoding = check_decoding(decoding)
        lean = (lean_bert.LeanTokenClassifier, lean_bert.LeanPairClassifier)
        for model in (ner_model, re_model):
            if isinstance(model, lean):
                model.set_precision(DTYPES[precision])
            elif model is not None and precision == "bf16":
                _round_embeddings(model)
        self.ner_model = ner_model.to(self.device).eval() if ner_model is not None else None
        self.re_model = re_model.to(self.device).eval() if re_model is not None else None
        self.ner_tokenizer, self.re_tokenizer = ner_tokenizer, re_tokenizer
        self.ner_max_length, self.ner_stride, self.re_max_length = ner_max_length, ner_stride, re_max_length
        if ner_model is not None:
            self._ner_labels = [ner_model.config.id2label[i] for i in range(ner_model.config.num_labels)]
        if re_model is not None:
            self._re_labels = [re_model.config.id2label[i] for i in range(re_model.config.num_labels)]
        self.lost_pairs = 0  # candidate pairs too far apart for the RE window, since load
        self.backends = {task: "lean" if isinstance(model, lean) else "transformers"  # what runs each task
                         for task, model in (("ner", ner_model), ("re", re_model)) if model is not None}
        self._tokenizer_lock = threading.Lock()  # see the module docstring: thread safety
        if max_chars is not None and max_chars < 1:
            raise ValueError(f"max_chars must be >= 1 or None, got {max_chars}")
        self.max_chars = max_chars
        if max_batch_tokens is None:
            max_batch_tokens = DEFAULT_MAX_BATCH_TOKENS[precision]
        if max_batch_tokens < 1:
            raise ValueError(f"max_batch_tokens must be >= 1, got {max_batch_tokens}")
        self.max_batch_tokens = max_batch_tokens

    # --- loading --------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, run_dir: str | Path, device: str = "cpu", precision: str = "fp32",
                        max_chars: int | None = DEFAULT_MAX_CHARS, tasks: Sequence[str] = ("ner", "re"),
                        decoding: str = "viterbi", backend: str = "auto",
                        max_batch_tokens: int | None = None) -> "Predictor":
        """Load ``run_dir/ner`` and ``run_dir/re`` (either may be absent) from safetensors, offline;
        ``tasks`` picks which of the two to load (``("ner",)``: only ``ner/``, never ``re/``).

        ``backend``: ``"lean"`` runs BERT-family encoders with :mod:`ie.lean_bert` (less memory, faster
        loading), ``"transformers"`` with the transformers classes they were trained with, ``"auto"``
        (default) the lean one wherever it supports the checkpoint. ``self.backends`` says which ran.

        ``max_batch_tokens``: padded tokens per encoder batch; ``None`` takes 2,048 in bf16 and 1,024 in
        fp32, the same activation memory."""
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
        if precision not in DTYPES:
            raise ValueError(f"precision must be one of {list(DTYPES)}, got {precision!r}")
        tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
        if not tasks or set(tasks) - {"ner", "re"}:
            raise ValueError(f"tasks: expected a non-empty subset of ('ner', 're'), got {tasks}")
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise FileNotFoundError(f"run folder not found: {run_dir}")
        ner_dir, re_dir = run_dir / "ner", run_dir / "re"
        load_ner, load_re = "ner" in tasks and ner_dir.exists(), "re" in tasks and re_dir.exists()
        if not load_ner and not load_re:
            raise CheckpointError(f"{run_dir}: no {' or '.join(t + '/' for t in tasks)} checkpoint found")
        kwargs: dict = {"device": device, "precision": precision, "max_chars": max_chars, "decoding": decoding,
                        "max_batch_tokens": max_batch_tokens}
        schemas = []
        if load_ner:
            info = read_checkpoint_info(ner_dir, "ner")
            model = _load_model(ner_dir, "ner", DTYPES[precision], backend)
            _check_labels(ner_dir, model, info.schema.bio_tags)
            kwargs.update(ner_model=model, ner_tokenizer=SavedTokenizer(ner_dir),
                          ner_max_length=info.max_length, ner_stride=info.stride)
            schemas.append(info.schema)
        if load_re:
            info = read_checkpoint_info(re_dir, "re")
            if info.extra.get("encoding") != RE_ENCODING:
                raise CheckpointError(f"{re_dir}: RE checkpoint encoding {info.extra.get('encoding')!r} (one encoder "
                                      f"pass per pair, before all pairs were scored at once); this code reads "
                                      f"{RE_ENCODING!r}: retrain the RE model")
            model = _load_model(re_dir, "re", DTYPES[precision], backend)
            _check_labels(re_dir, model, info.schema.relation_labels)
            kwargs.update(re_model=model, re_tokenizer=SavedTokenizer(re_dir),
                          re_max_length=info.max_length)
            schemas.append(info.schema)
        if len(schemas) == 2 and schemas[0].differences(schemas[1]):
            raise CheckpointError(f"{run_dir}: NER and RE checkpoints were trained on different schemas: "
                                  + "; ".join(schemas[0].differences(schemas[1])))
        return cls(schemas[0], **kwargs)

    def _autocast(self, task: str):
        """bf16 autocast around a transformers model; lean models carry their precision themselves."""
        if self.precision == "bf16" and self.backends.get(task) != "lean":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    # --- word-level API (used by evaluation) ------------------------------------------------------
    def tag_words(self, sentences: Sequence[Sequence[str]], batch_size: int = 32) -> list[list[WordEntity]]:
        """Entities of pre-tokenised sentences, as word spans."""
        return [decode_bio(tags, probs) for tags, probs in zip(*self.word_tags(sentences, batch_size))]

    def word_tags(self, sentences: Sequence[Sequence[str]], batch_size: int = 32, progress: bool = False
                  ) -> tuple[list[list[str]], list[list[float]]]:
        """The BIO tag and its probability for every word, read at the word's first subword in the
        window that owns the word, decoded as ``self.decoding`` says (see :mod:`ie.decoding`)."""
        if self.ner_model is None:
            raise RuntimeError("this Predictor was loaded without an NER checkpoint; it cannot find entities")
        jobs = []  # (sentence index, window)
        with self._tokenizer_lock:
            pieces = WordPieces.many(self.ner_tokenizer, sentences)
            for s, words in enumerate(sentences):
                if words:
                    for window in encode_windows(self.ner_tokenizer, words, self.ner_max_length, self.ner_stride,
                                                 pieces[s]):
                        jobs.append((s, window))
        # One row per word of all sentences; each window writes the rows of the words it owns.
        offsets = [0]
        for words in sentences:
            offsets.append(offsets[-1] + len(words))
        log_probs = torch.zeros(offsets[-1], len(self._ner_labels))
        # Length-sorted batches pad less; results are placed by index so order does not matter.
        jobs.sort(key=lambda job: len(job[1].input_ids))
        pad_id = self.ner_tokenizer.pad_token_id or 0
        with torch.inference_mode(), self._autocast("ner"):
            lengths = [len(w.input_ids) for _, w in jobs]
            for batch in _batches(jobs, lengths, batch_size, self.max_batch_tokens, progress and "NER"):
                ids, mask = pad_ids([w.input_ids for _, w in batch], pad_id, PAD_TO_MULTIPLE)
                logits = self.ner_model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
                rows, positions, targets = [], [], []
                for row, (s, window) in enumerate(batch):
                    for w, pos in window.owned_first_subwords():
                        rows.append(row)
                        positions.append(pos)
                        targets.append(offsets[s] + w)
                log_probs[targets] = logits[rows, positions].float().log_softmax(-1).cpu()
        with torch.inference_mode():
            per_sentence = [log_probs[a:b] for a, b in zip(offsets, offsets[1:])]
            best = decode_many(per_sentence, self._ner_labels, self.decoding)
            flat = torch.tensor([k for path in best for k in path], dtype=torch.long)
            chosen = log_probs[torch.arange(len(flat)), flat].exp().tolist()
        tags = [[self._ner_labels[k] for k in path] for path in best]
        probs = [chosen[a:b] for a, b in zip(offsets, offsets[1:])]
        return tags, probs

    def classify_pairs(self, sentences: Sequence[Sequence[str]], entities: Sequence[Sequence[tuple]],
                       batch_size: int = 32, progress: bool = False) -> list[list[WordRelation]]:
        """Relations among given word-span entities ``(start, end, label, ...)`` of each sentence. Every
        entity a relation can take is marked at once, so all pairs of a sentence share one encoder pass."""
        if self.re_model is None:
            return [[] for _ in sentences]
        jobs = []  # (sentence index, entity index of each marked span, window)
        with self._tokenizer_lock:
            # one batched tokenizer call for every sentence that may hold a pair; reachable_pairs decides
            candidates = [s for s, ents in enumerate(entities) if len(ents) > 1]
            pieces = dict(zip(candidates, WordPieces.many(self.re_tokenizer, [sentences[s] for s in candidates])))
            for s in candidates:
                words, ents = sentences[s], entities[s]
                sentence = reachable_pairs(self.re_tokenizer, words, ents, self.schema, self.re_max_length, pieces[s])
                if sentence is None:
                    continue
                if sentence.lost:
                    self.lost_pairs += sentence.lost
                    log.warning("sentence %d: %d candidate pair(s) lie further apart than the RE window "
                                "(max_length=%d subwords) and were not scored", s, sentence.lost, self.re_max_length)
                for window in sentence.windows(self.re_tokenizer, self.re_max_length):
                    jobs.append((s, sentence.order, window))
        results: list[list[WordRelation]] = [[] for _ in sentences]
        jobs.sort(key=lambda job: len(job[2].input_ids))
        pad_id = self.re_tokenizer.pad_token_id or 0
        with torch.inference_mode(), self._autocast("re"):
            lengths = [len(w.input_ids) for _, _, w in jobs]
            for batch in _batches(jobs, lengths, batch_size, self.max_batch_tokens, progress and "RE"):
                inputs = collate_windows([{"input_ids": w.input_ids, **w.pair_features()} for _, _, w in batch],
                                         pad_id, PAD_TO_MULTIPLE)
                logits = self.re_model(**{k: v.to(self.device) for k, v in inputs.items()}).logits
                best = logits.float().softmax(-1).max(-1)
                pairs = [(s, order[h], order[t]) for s, order, w in batch for h, t in w.pairs]
                for (s, h, t), index, score in zip(pairs, best.indices.tolist(), best.values.tolist()):
                    label = self._re_labels[index]
                    if label != NO_RELATION:
                        results[s].append((h, t, label, float(score)))
        for rels in results:
            rels.sort()
        return results

    # --- text API ---------------------------------------------------------------------------------
    def _check_text(self, i: int, text) -> None:
        """Reject what would otherwise fail deep inside spaCy, the tokenizer or torch."""
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
        if self.max_chars is not None and len(text) > self.max_chars:
            raise ValueError(f"texts[{i}] has {len(text):,} characters, more than max_chars={self.max_chars:,}; "
                             "split it, or load the Predictor with a larger max_chars (None: no limit)")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError(f"texts[{i}] is not valid Unicode: lone surrogate {text[err.start]!r} at index "
                             f"{err.start}") from None

    def __call__(self, text: str) -> Prediction:
        return self.predict([text])[0]

    def predict(self, texts: Sequence[str], batch_size: int = 32) -> list[Prediction]:
        """Predictions for each text; see the module docstring for what each kind of input gives."""
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise TypeError(f"predict() takes a list of strings, got {type(texts).__name__}")
        for i, text in enumerate(texts):
            self._check_text(i, text)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        out_entities: list[list[Entity]] = [[] for _ in texts]
        out_relations: list[list[Relation]] = [[] for _ in texts]
        # Sentences go through the models a chunk at a time, so memory stays flat however many texts come
        # in one call; within a chunk they are length-sorted into batches.
        flat = ((d, sent) for d, text in enumerate(texts) for sent in split_sentences(text))
        while chunk := list(islice(flat, SENTENCES_PER_CHUNK)):
            words = [[tok.text for tok in sent.tokens] for _, sent in chunk]
            ents = self.tag_words(words, batch_size)
            rels = self.classify_pairs(words, ents, batch_size)
            for (d, sent), sent_ents, sent_rels in zip(chunk, ents, rels):
                objs = []
                for start, end, label, score in sent_ents:
                    a, b = sent.tokens[start].start, sent.tokens[end - 1].end
                    objs.append(Entity(label, a, b, texts[d][a:b], score))
                out_entities[d].extend(objs)
                out_relations[d].extend(Relation(label, objs[h], objs[t], score) for h, t, label, score in sent_rels)
        return [Prediction(text, e, r) for text, e, r in zip(texts, out_entities, out_relations)]
