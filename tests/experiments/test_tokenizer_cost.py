import torch

from greenlab.experiments.tokenizer_cost import CONTEXT, FixedTransformer, epoch_cost


def test_fixed_transformer_is_causal():
    torch.manual_seed(0)
    model = FixedTransformer(vocab_size=50).eval()
    ids = torch.randint(0, 50, (2, CONTEXT))
    changed = ids.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 50
    logits, logits_changed = model(ids), model(changed)
    assert logits.shape == (2, CONTEXT, 50)
    assert torch.allclose(logits[:, :-1], logits_changed[:, :-1], atol=1e-5)


def test_epoch_cost_grows_with_the_number_of_tokens(cache):
    ids = torch.randint(0, 40, (3 * 16 * CONTEXT,)).tolist()
    short = epoch_cost(ids[: len(ids) // 3], 40, label="short")
    long = epoch_cost(ids, 40, label="long")
    assert long.flops > 1.4 * short.flops and short.available


def test_epoch_cost_refuses_ids_outside_the_vocabulary(cache):
    import pytest

    ids = list(range(40)) * 60
    with pytest.raises(ValueError, match="token id 45 is out of range for vocab_size=40"):
        epoch_cost(ids + [45], 40, label="x")  # once an IndexError from inside the embedding, mid-measurement
    with pytest.raises(ValueError, match="ids must be whole-number token ids, got torch.float32"):
        epoch_cost([1.5] * len(ids), 40, label="x")  # once silently truncated to 1
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1, got 0"):
        epoch_cost(ids, 40, label="x", batch_size=0)  # once a ZeroDivisionError
