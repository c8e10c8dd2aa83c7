"""The context pooling of a pair: the max over the tokens strictly between its two mentions."""

import pytest
import torch

from ie.models import pairs, pooling


def brute_force(hidden, rows, heads, tails):
    out = []
    for row, h, t in zip(rows.tolist(), heads.tolist(), tails.tolist()):
        first, second = sorted([h, t])
        span = hidden[row, first[1] + 1 : second[0]]
        out.append(span.amax(0) if len(span) else torch.zeros(hidden.size(-1)))
    return torch.stack(out)


@pytest.mark.parametrize("budget", [1, 37, 1 << 22])  # one pair at a time, a few, all at once
def test_between_max_equals_the_per_pair_definition_at_any_chunk_size(monkeypatch, budget):
    monkeypatch.setattr(pooling, "POOL_BUDGET", budget)
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(3, 20, 4, generator=gen)
    # [open, close] marker positions: apart, touching (nothing between), reversed, far apart
    heads = torch.tensor([[1, 3], [5, 7], [12, 15], [2, 4], [1, 2]])
    tails = torch.tensor([[6, 8], [8, 9], [4, 6], [16, 18], [17, 19]])
    rows = torch.tensor([0, 1, 2, 2, 0])
    got = pairs.between_max(hidden, rows, heads, tails)
    torch.testing.assert_close(got, brute_force(hidden, rows, heads, tails), rtol=0, atol=0)
    assert torch.equal(got[1], torch.zeros(4))  # touching mentions: zeros
    empty = pairs.between_max(hidden, rows[:0], heads[:0], tails[:0])
    assert empty.shape == (0, 4)


def test_gradients_reach_only_the_max_tokens():
    hidden = torch.zeros(1, 6, 2, requires_grad=True)
    with torch.no_grad():
        hidden[0, 3] = torch.tensor([5.0, -1.0])
        hidden[0, 2] = torch.tensor([1.0, 4.0])
    out = pairs.between_max(hidden, torch.tensor([0]), torch.tensor([[0, 1]]), torch.tensor([[4, 5]]))
    out.sum().backward()
    assert hidden.grad[0, 3].tolist() == [1.0, 0.0] and hidden.grad[0, 2].tolist() == [0.0, 1.0]


def _tiny_re_model(representation: str = "markers_between_max"):
    from ie.models.modeling import build_re_model

    from tests.conftest import compose_config

    cfg = compose_config(
        "train", ["model=tiny", "paths.output_dir=/tmp/unused", f"model.pair_representation={representation}"]
    )
    torch.manual_seed(0)
    return build_re_model(cfg.model, ["no_relation", "works_for"], vocab_size=64)


def _batch():
    return {
        "input_ids": torch.tensor([[1, 5, 6, 7, 8, 9, 10, 2]]),
        "attention_mask": torch.ones(1, 8, dtype=torch.long),
        "pair_rows": torch.tensor([0, 0]),
        "head_spans": torch.tensor([[1, 3], [5, 7]]),
        "tail_spans": torch.tensor([[5, 7], [1, 3]]),
    }


def test_the_representation_is_named_in_the_checkpoint_and_sizes_the_classifier(tmp_path):
    import json

    from ie.models import lean_bert
    from ie.models.modeling import MarkerRelationModel

    model = _tiny_re_model().eval()
    assert model.classifier.in_features == 3 * model.config.hidden_size
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config[pairs.CONFIG_KEY] == "markers_between_max"
    # a checkpoint saved before the name was stored reads as the default, on both backends
    del config[pairs.CONFIG_KEY]
    (tmp_path / "config.json").write_text(json.dumps(config))
    with torch.no_grad():
        expected = model(**_batch()).logits
        torch.testing.assert_close(MarkerRelationModel.from_pretrained(tmp_path).eval()(**_batch()).logits, expected)
        torch.testing.assert_close(lean_bert.load(tmp_path)(**_batch()).logits, expected, rtol=1e-5, atol=1e-5)


def test_a_new_representation_is_one_function_and_one_entry(monkeypatch, tmp_path):
    from ie.models import lean_bert

    def markers_only(hidden, pair_rows, head_spans, tail_spans):
        return torch.cat([hidden[pair_rows, head_spans[:, 0]], hidden[pair_rows, tail_spans[:, 0]]], dim=-1)

    monkeypatch.setitem(pairs.REPRESENTATIONS, "markers_only", pairs.PairRepresentation(markers_only, 2))
    model = _tiny_re_model("markers_only").eval()
    assert model.classifier.in_features == 2 * model.config.hidden_size
    model.save_pretrained(tmp_path)
    with torch.no_grad():
        torch.testing.assert_close(
            lean_bert.load(tmp_path)(**_batch()).logits, model(**_batch()).logits, rtol=1e-5, atol=1e-5
        )


def test_an_unknown_representation_names_the_config_key():
    from ie.errors import ConfigError

    with pytest.raises(ConfigError, match=r"model.pair_representation: unknown 'mean' \(known: markers_between_max"):
        _tiny_re_model("mean")
