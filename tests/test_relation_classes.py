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


def test_the_training_loss_classes_are_the_ones_the_predictor_decodes_over(run_dir, schema):
    """trainer.re.loss_classes=schema trains each pair over exactly the classes the Predictor will choose
    from for it, so training and decoding follow one rule (Schema.admitted_relations)."""
    from ie.training.features import admitted_classes

    predictor = Predictor.from_pretrained(run_dir, tasks=("re",))
    assert predictor._re_labels == schema.relation_labels
    for head in ENTITIES:
        for tail in ENTITIES:
            if head is not tail:
                assert admitted_classes(schema, head, tail, 0) == predictor._labels_allowed(head, tail).tolist()
    # a gold label the rule would not allow (data outside the schema) stays in, so the loss stays finite
    party_to = schema.relation_labels.index("party_to")
    assert admitted_classes(schema, ENTITIES[0], ENTITIES[1], party_to)[party_to]


def test_a_masked_loss_is_cross_entropy_over_the_pairs_own_classes(run_dir):
    from ie.models.modeling import MarkerRelationModel

    model = MarkerRelationModel.from_pretrained(run_dir / "re").eval()
    inputs = {
        "input_ids": torch.randint(5, 100, (1, 12)),
        "attention_mask": torch.ones(1, 12, dtype=torch.long),
        "pair_rows": torch.tensor([0, 0]),
        "head_spans": torch.tensor([[1, 2], [4, 5]]),
        "tail_spans": torch.tensor([[4, 5], [1, 2]]),
        "labels": torch.tensor([0, 2]),
    }
    allowed = torch.zeros(2, model.config.num_labels, dtype=torch.bool)
    allowed[:, [0, 2]] = True
    allowed[1, 3] = True
    with torch.no_grad():
        out = model(**inputs, allowed_classes=allowed)
        unmasked = model(**inputs)
    logits = out.logits.float()
    expected = torch.stack([-logits[0, [0, 2]].log_softmax(-1)[0], -logits[1, [0, 2, 3]].log_softmax(-1)[1]]).mean()
    torch.testing.assert_close(out.loss, expected)
    torch.testing.assert_close(out.logits, unmasked.logits)  # the mask shapes the loss, never the scores
    assert out.loss < unmasked.loss  # fewer classes to share the probability with
