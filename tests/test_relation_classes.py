"""A relation label is emitted only where the schema admits it for the pair's entity types."""

import torch

from ie.inference.predictor import Predictor

WORDS = ["Denis", "Manturov", "visited", "Dushanbe", "and", "Sergey", "Kwan"]
ENTITIES = [(0, 2, "PER"), (3, 4, "LOC"), (5, 7, "PER")]


def test_a_label_the_pair_types_rule_out_is_never_emitted_and_scores_are_over_admitted_classes(run_dir):
    predictor = Predictor.from_pretrained(run_dir, tasks=("re",))
    labels = predictor._re_labels
    preference = {"met_with": 5.0, "party_to": 4.0, "works_for": 3.0, "no_relation": 0.0}
    row = torch.tensor([preference.get(label, -5.0) for label in labels])
    forward = predictor.re_model.forward

    def biased(*args, **kwargs):
        out = forward(*args, **kwargs)
        out.logits.copy_(row.to(out.logits.dtype).expand_as(out.logits))
        return out

    predictor.re_model.forward = biased
    (relations,) = predictor.classify_pairs([WORDS], [ENTITIES])
    found = {(h, t): (label, score) for h, t, label, score in relations}
    # PER->LOC: only works_for fits; PER->PER: met_with, in text order only; never party_to (needs AGREEMENT)
    assert {k: v[0] for k, v in found.items()} == {(0, 1): "works_for", (2, 1): "works_for", (0, 2): "met_with"}
    admitted = torch.tensor([preference["works_for"], preference["no_relation"]]).softmax(-1)[0].item()
    assert abs(found[(0, 1)][1] - admitted) < 1e-3
