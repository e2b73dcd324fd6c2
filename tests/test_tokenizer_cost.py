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
