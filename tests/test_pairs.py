"""The context pooling of a pair: the max over the tokens strictly between its two mentions."""

import pytest
import torch

from ie import pairs


def brute_force(hidden, rows, heads, tails):
    out = []
    for row, h, t in zip(rows.tolist(), heads.tolist(), tails.tolist()):
        first, second = sorted([h, t])
        span = hidden[row, first[1] + 1:second[0]]
        out.append(span.amax(0) if len(span) else torch.zeros(hidden.size(-1)))
    return torch.stack(out)


@pytest.mark.parametrize("budget", [1, 37, 1 << 22])  # one pair at a time, a few, all at once
def test_between_max_equals_the_per_pair_definition_at_any_chunk_size(monkeypatch, budget):
    monkeypatch.setattr(pairs, "POOL_BUDGET", budget)
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
