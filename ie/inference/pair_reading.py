"""The Predictor's relation step: candidate pairs of given entities classified, by a relation model with
typed markers (its own encoder pass per sentence) or by a shared-encoder head over the NER pass's hidden
states (:mod:`ie.inference.shared_head`). A mixin of :class:`ie.inference.predictor.Predictor`, which holds
the models, tokenizers and settings these methods read."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from ie.data.schema import NO_RELATION
from ie.encoding.align import PAD_TO_MULTIPLE, WordPieces
from ie.encoding.markers import collate_windows, pair_slices, reachable_pairs
from ie.encoding.shared_pairs import sentence_pairs
from ie.inference.token_budget import token_budget_batches

log = logging.getLogger("ie.inference.predictor")  # one logger for the Predictor's messages

WordRelation = tuple[int, int, str, float]  # head entity index, tail entity index, label, score


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(logits))


class PairReading:
    """The relation methods of the Predictor (see the module docstring)."""

    def classify_pairs(
        self,
        sentences: Sequence[Sequence[str]],
        entities: Sequence[Sequence[tuple]],
        batch_size: int = 32,
        progress: bool = False,
        documents: Sequence | None = None,
    ) -> list[list[WordRelation]]:
        """Relations among given word-span entities ``(start, end, label, ...)`` of each sentence. Every
        entity a relation can take is marked at once, so all pairs of a sentence share one encoder pass; a
        shared-encoder head reads the NER encoder's pass instead (``documents``: as for :meth:`word_tags`)."""
        if self.re_model is None:
            return [[] for _ in sentences]
        if self.shared_head is not None:
            # sentences with a pair; all of them when the NER model reads its neighbours (ner_context)
            reading = [s for s, ents in enumerate(entities) if len(ents) > 1 or self.ner_context]
            *_, encoded = self._tags_and_states(
                [sentences[s] for s in reading],
                None if documents is None else [documents[s] for s in reading],
                batch_size,
                progress,
            )
            return self._shared_relations(sentences, entities, {reading[k]: v for k, v in encoded.items()})
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
                    log.warning(
                        "sentence %d: %d candidate pair(s) lie further apart than the RE window "
                        "(max_length=%d subwords) and were not scored",
                        s,
                        sentence.lost,
                        self.re_max_length,
                    )
                for window in pair_slices(
                    sentence.windows(self.re_tokenizer, self.re_max_length), self._max_range_tokens.get("re")
                ):
                    features = {"input_ids": window.input_ids, **window.pair_features()}
                    if self.word_shapes["re"]:
                        features["token_type_ids"] = self._token_types("re", words, window.word_ids)
                    jobs.append((s, sentence.order, window, features))
        results: list[list[WordRelation]] = [[] for _ in sentences]
        jobs.sort(key=lambda job: len(job[2].input_ids))
        pad_id = self.re_tokenizer.pad_token_id or 0
        lengths = [len(w.input_ids) for _, _, w, _ in jobs]
        for batch in token_budget_batches(
            jobs,
            lengths,
            self._windows_per_call["re"] or batch_size,
            self.max_batch_tokens,
            progress and "RE",
            [len(w.pairs) for _, _, w, _ in jobs],
            self._max_range_tokens.get("re"),
        ):
            inputs = collate_windows([features for *_, features in batch], pad_id, PAD_TO_MULTIPLE)
            logits = self._run["re"](inputs)
            pairs = [(s, order[h], order[t]) for s, order, w, _ in batch for h, t in w.pairs]
            self._decode_pairs(pairs, logits, entities, results)
        for rels in results:
            rels.sort()
        return results

    def _shared_relations(
        self, sentences: Sequence[Sequence[str]], entities: Sequence[Sequence[tuple]], encoded: dict[int, list]
    ) -> list[list[WordRelation]]:
        """Relations from the shared head over the windows the NER pass encoded (``encoded``, from
        :meth:`_token_word_tags`): a pair is read in the first window that holds both its mentions."""
        head = self.shared_head
        results: list[list[WordRelation]] = [[] for _ in sentences]
        for s, windows in encoded.items():
            if len(entities[s]) < 2:
                continue
            found, lost = sentence_pairs([window for window, _ in windows], entities[s], self.schema)
            if lost:
                self.lost_pairs += lost
                log.warning(
                    "sentence %d: %d candidate pair(s) share no NER window (max_length=%d subwords) and "
                    "were not scored",
                    s,
                    lost,
                    self.ner_max_length,
                )
            for (_, hidden), window_pairs in zip(windows, found):
                if not window_pairs.pairs:
                    continue
                f = {
                    k: np.asarray(v, dtype=np.int64)
                    for k, v in window_pairs.features(head.entity_labels, entities[s]).items()
                }
                logits = head.logits(hidden, f["head_bounds"], f["tail_bounds"], f["head_types"], f["tail_types"])
                self._decode_pairs([(s, h, t) for h, t in window_pairs.pairs], logits, entities, results)
        for rels in results:
            rels.sort()
        return results

    def _decode_pairs(
        self,
        pairs: list[tuple[int, int, int]],
        logits: np.ndarray,
        entities: Sequence[Sequence[tuple]],
        results: list[list[WordRelation]],
    ) -> None:
        """Each ``(sentence, head, tail)`` pair's best admitted class, added to ``results`` unless none."""
        allowed = np.stack([self._labels_allowed(entities[s][h], entities[s][t]) for s, h, t in pairs])
        best = softmax(np.where(allowed, logits, -np.inf))
        for (s, h, t), index, score in zip(pairs, best.argmax(-1).tolist(), best.max(-1).tolist()):
            label = self._re_labels[index]
            if label != NO_RELATION:
                results[s].append((h, t, label, float(score)))

    def _labels_allowed(self, head: tuple, tail: tuple) -> np.ndarray:
        """Which RE classes the pair admits (``Schema.pair_classes``): a label the schema rules out for it is
        never the answer, so it is never emitted; the score is the softmax over the admitted classes."""
        key = (head[2], tail[2], head[0] < tail[0])
        if key not in self._allowed_cache:
            admitted = self.schema.pair_classes(head, tail)
            self._allowed_cache[key] = np.array([label in admitted for label in self._re_labels])
        return self._allowed_cache[key]
