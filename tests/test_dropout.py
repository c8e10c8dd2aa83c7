"""The CPU training dropout (ie/dropout.py) drops at the configured rate, is seeded like torch's, and
changes nothing a checkpoint or an evaluation sees."""

import copy
import json

import pytest
import torch
from transformers import BertConfig, BertForTokenClassification

from ie.models import dropout
from ie.models.modeling import MarkerRelationModel


def tiny_bert(**extra):
    config = BertConfig(
        vocab_size=60,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=3,
        **extra,
    )
    torch.manual_seed(0)
    return BertForTokenClassification(config).eval()


def batch():
    ids = torch.randint(5, 60, (3, 11), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    return ids, mask


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_drop_rate_and_scaling_match_the_probability(p):
    x = torch.ones(1_000_000)
    y = dropout.dropout(x, p)
    assert abs((y == 0).float().mean().item() - p) < 0.002
    kept = y[y != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / (1 - round(p * 65536) / 65536)))
    assert abs(y.mean().item() - 1) < 0.005  # expectation preserved


def test_masks_follow_torch_seed_and_gradients_flow_through_kept_entries():
    torch.manual_seed(3)
    a = dropout.keep_mask((7, 13), 0.3)
    torch.manual_seed(3)
    assert torch.equal(a, dropout.keep_mask((7, 13), 0.3))
    assert not torch.equal(a, dropout.keep_mask((7, 13), 0.3))  # the generator moved on
    x = torch.randn(5, 9, requires_grad=True)
    torch.manual_seed(4)
    dropout.dropout(x, 0.25).sum().backward()
    torch.manual_seed(4)
    expected = dropout.keep_mask(x.shape, 0.25).float() / (1 - round(0.25 * 65536) / 65536)
    assert torch.equal(x.grad, expected)


def test_eval_mode_and_p_zero_are_the_identity_and_bad_p_is_refused():
    x = torch.randn(4, 4)
    assert dropout.dropout(x, 0.5, training=False) is x and dropout.dropout(x, 0.0) is x
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\), got 1.0"):
        dropout.dropout(x, 1.0)


def test_install_keeps_eval_outputs_and_checkpoints_unchanged(tmp_path):
    model = tiny_bert()
    reference = copy.deepcopy(model)
    assert dropout.install(model) == sum(isinstance(m, torch.nn.Dropout) for m in reference.modules())
    assert not any(type(m) is torch.nn.Dropout for m in model.modules())
    assert model.config._attn_implementation == dropout.ATTENTION
    ids, mask = batch()
    with torch.no_grad():  # eval: no dropout, attention on transformers' SDPA function
        torch.testing.assert_close(
            model(input_ids=ids, attention_mask=mask).logits,
            reference(input_ids=ids, attention_mask=mask).logits,
            rtol=0,
            atol=0,
        )
    model.save_pretrained(tmp_path)
    assert "ie_fast_dropout" not in (tmp_path / "config.json").read_text()
    assert json.loads((tmp_path / "config.json").read_text())["attention_probs_dropout_prob"] == 0.1
    assert set(model.state_dict()) == set(reference.state_dict())


def test_training_attention_is_the_eager_math_with_the_same_mask_handling():
    """With the drop rate at zero but training on, our attention path runs and equals transformers'
    eager attention, padding included; with dropout on, the loss still backpropagates."""
    model, reference = tiny_bert(attention_probs_dropout_prob=0.0, hidden_dropout_prob=0.0), None
    reference = copy.deepcopy(model)
    reference.set_attn_implementation("eager")
    dropout.install(model)
    for m in model.modules():
        if isinstance(m, dropout.Dropout):
            m.p = 1e-9  # on, but rounds to no lanes dropped: every call takes the training path
    model.train(), reference.train()
    ids, mask = batch()
    real = mask.bool()
    torch.testing.assert_close(
        model(input_ids=ids, attention_mask=mask).logits[real],
        reference(input_ids=ids, attention_mask=mask).logits[real],
        rtol=1e-5,
        atol=1e-5,
    )
    for m in model.modules():
        if isinstance(m, dropout.Dropout):
            m.p = 0.1
    model(input_ids=ids, attention_mask=mask, labels=torch.zeros_like(ids)).loss.backward()
    assert model.bert.encoder.layer[0].attention.self.query.weight.grad.abs().sum() > 0


def test_install_reaches_the_encoder_inside_the_relation_model():
    config = BertConfig(
        vocab_size=60, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, num_labels=2
    )
    model = MarkerRelationModel(config)
    dropout.install(model)
    assert model.encoder.config._attn_implementation == dropout.ATTENTION
    assert isinstance(model.dropout, dropout.Dropout)
