import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoModelForSeq2SeqLM, GenerationConfig
from transformers.models.marian.modeling_marian import MarianSinusoidalPositionalEmbedding

from greenlab.foundations import settings
from greenlab.models.gpt import KVCache
from greenlab.models.seq2seq import EncoderDecoder, Seq2SeqConfig, sinusoidal_positions, to_hf

PAD, BOS, EOS = 0, 1, 2
CONFIG = Seq2SeqConfig(vocab_size=12, d_model=32, n_head=4, n_encoder_layer=2, n_decoder_layer=2, d_ff=48,
                       max_source_len=16, max_target_len=12, dropout=0.1)
PAIRS = [([3, 4, 5, 6], [6, 5, 4, 3]), ([7, 8, 9, 10, 11, 3], [3, 11, 10, 9, 8, 7]), ([5, 9], [9, 5]),
         ([11, 4, 7], [7, 4, 11])]  # reverse the source


def randomize(model: EncoderDecoder) -> EncoderDecoder:
    """Weights far from the init, so that every one matters and outputs vary. (At the init, a tied post-LN model
    mostly predicts its own input token again; LayerNorm gains of either sign break that.)"""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "embed.weight":
                p.normal_(0, 0.1)
            elif p.dim() == 2:
                p.normal_(0, 0.5 / math.sqrt(p.shape[1]))
            else:
                p.normal_(0, 1.0 if name.endswith("norm.weight") else 0.3)
    return model.eval()


def right_padded(rows: list[list[int]]) -> torch.Tensor:
    width = max(map(len, rows))
    return torch.tensor([row + [PAD] * (width - len(row)) for row in rows])


@pytest.fixture(scope="module", autouse=True)
def tiny_models_on_one_thread():
    """The models here are tiny: one thread is faster than two, and does not stall when the other core is busy."""
    with settings.one_thread():
        yield


@pytest.fixture(scope="module")
def model() -> EncoderDecoder:
    torch.manual_seed(0)
    return randomize(EncoderDecoder(CONFIG))


@pytest.fixture(scope="module")
def trained() -> EncoderDecoder:
    """Overfit on the four PAIRS: 200 Adam steps (about a second on 2 cores)."""
    torch.manual_seed(0)
    model = EncoderDecoder(Seq2SeqConfig(**{**CONFIG.to_dict(), "dropout": 0.0}))
    src = right_padded([s for s, _ in PAIRS])
    decoder_input = right_padded([[BOS, *t] for _, t in PAIRS])
    labels = right_padded([[*t, EOS] for _, t in PAIRS])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(200):
        loss = F.cross_entropy(model(src, decoder_input).flatten(0, 1), labels.flatten(), ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.fixture
def sources() -> torch.Tensor:
    """Four sources of 10, 6, 3 and 10 tokens, right-padded."""
    torch.manual_seed(1)
    src = torch.randint(3, 12, (4, 10))
    src[1, 6:] = PAD
    src[2, 3:] = PAD
    return src


def log_probability(model: EncoderDecoder, src: torch.Tensor, ids: list[int], max_new_tokens: int) -> float:
    """The model's log-probability of a generated target: its tokens, and eos if it ended before the limit."""
    target = ids + [EOS] if len(ids) < max_new_tokens else ids
    logits = model(src[None], torch.tensor([[BOS, *target[:-1]]]))
    return logits.log_softmax(dim=-1)[0, range(len(target)), target].sum().item()


def until_eos(row: list[int]) -> list[int]:
    row = row[1:]  # the decoder's start token
    return row[:row.index(EOS)] if EOS in row else row


# --- configuration and counting --------------------------------------------------------------------------


def test_defaults_make_a_course_size_model():
    config = Seq2SeqConfig()
    assert (config.vocab_size, config.d_model, config.n_encoder_layer, config.n_decoder_layer) == (100, 128, 2, 2)
    assert Seq2SeqConfig(**config.to_dict()) == config
    model = EncoderDecoder(config).eval()
    assert not model.embed.weight[config.pad_id].any()  # Marian's padding row starts at zero
    src, tgt = torch.randint(3, 100, (2, 64)), torch.randint(3, 100, (2, 64))
    assert model(src, tgt).shape == (2, 64, 100)


@pytest.mark.parametrize("change, named", [
    ({"d_model": 0}, "d_model"), ({"n_head": 2.0}, "n_head"), ({"vocab_size": True}, "vocab_size"),
    ({"max_target_len": -5}, "max_target_len"), ({"n_decoder_layer": "2"}, "n_decoder_layer"),
    ({"d_model": 30, "n_head": 4}, "d_model=30"), ({"eos_id": 12}, "eos_id must be a whole number from 0 to 11 \\(a token id\\), got 12"), ({"pad_id": -1}, "pad_id .* got -1"),
    ({"eos_id": 0}, "eos_id=0"), ({"bos_id": 1.0}, "bos_id"), ({"dropout": 1.0}, "dropout"),
])
def test_a_bad_config_is_an_error_naming_the_field(change, named):
    with pytest.raises(ValueError, match=named):
        Seq2SeqConfig(**{**CONFIG.to_dict(), **change})


def test_parameter_count_by_hand():
    model = EncoderDecoder(Seq2SeqConfig(vocab_size=11, d_model=8, n_head=2, n_encoder_layer=2, n_decoder_layer=1,
                                         d_ff=12, max_source_len=5, max_target_len=6))
    embedding = 11 * 8  # shared by sources, targets and the head; sinusoidal positions are not parameters
    attention = 4 * (8 * 8 + 8)  # q, k, v, out: weight and bias each
    feed_forward = (8 * 12 + 12) + (12 * 8 + 8)  # fc1, fc2
    layer_norm = 8 + 8  # gain and bias
    encoder_block = attention + feed_forward + 2 * layer_norm  # 288 + 212 + 32 = 532
    decoder_block = 2 * attention + feed_forward + 3 * layer_norm  # 576 + 212 + 48 = 836
    assert model.num_parameters() == embedding + 2 * encoder_block + decoder_block == 1988
    assert model.num_parameters(include_embeddings=False) == 1988 - 88
    assert not any("positions" in name for name in model.state_dict())


def test_flops_per_token_equal_what_pytorch_counts(model):
    src, tgt = torch.randint(3, 12, (2, 7)), torch.randint(3, 12, (2, 5))
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:  # the math kernel is counted
        loss = model(src, tgt).sum()
    forward = counter.get_total_flops()
    assert forward == pytest.approx(2 * 5 * model.flops_per_token(source_len=7, target_len=5), rel=1e-12)
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        loss.backward()
    model.zero_grad()
    assert forward + counter.get_total_flops() == pytest.approx(2 * 5 * model.flops_per_token(7, 5, training=True))


def test_positions_are_marians_sines_then_cosines():
    for d_model in (8, 7):
        theirs = MarianSinusoidalPositionalEmbedding(13, d_model).create_weight()
        assert torch.equal(sinusoidal_positions(13, d_model), theirs)
    positions = sinusoidal_positions(13, 8)
    p = torch.arange(13.0)
    assert torch.allclose(positions[:, 0], p.sin()) and torch.allclose(positions[:, 4], p.cos())  # frequency 1
    assert torch.allclose(positions[:, 1], (p / 10).sin()) and torch.allclose(positions[:, 5], (p / 10).cos())


# --- the forward pass ------------------------------------------------------------------------------------


def test_shapes(model, sources):
    tgt = torch.randint(3, 12, (4, 7))
    assert model(sources, tgt).shape == (4, 7, 12)
    assert model.encode(sources).shape == (4, 10, 32)
    assert model.cross_attention_maps(sources, tgt).shape == (2, 4, 4, 7, 10)  # layers, batch, heads, tgt, src


def test_source_padding_does_not_change_the_logits(model, sources):
    tgt = torch.randint(3, 12, (4, 7))
    padded = torch.cat([sources, torch.full((4, 5), PAD)], dim=1)
    assert (model(padded, tgt) - model(sources, tgt)).abs().max() < 1e-5
    assert (model.encode(padded)[:, :10] - model.encode(sources)).abs().max() < 1e-5
    alone = model(sources[2:3, :3], tgt[2:3])  # the short source without its batch's padding
    assert (alone - model(sources, tgt)[2:3]).abs().max() < 1e-5


def test_the_decoder_is_causal_and_ignores_target_padding(model, sources):
    tgt = torch.randint(3, 12, (4, 7))
    changed = tgt.clone()
    changed[:, 4] = (tgt[:, 4] - 2) % 9 + 3
    before, after = model(sources, tgt), model(sources, changed)
    assert torch.allclose(before[:, :4], after[:, :4], atol=1e-6)
    assert not torch.allclose(before[:, 4], after[:, 4], atol=1e-3)
    padded = torch.cat([tgt, torch.full((4, 3), PAD)], dim=1)
    assert torch.allclose(model(sources, padded)[:, :7], before, atol=1e-6)


def test_the_encoder_is_bidirectional(model, sources):
    changed = sources.clone()
    changed[0, 9] = (sources[0, 9] - 2) % 9 + 3  # the last token of a full-length source
    states, changed_states = model.encode(sources), model.encode(changed)
    assert not torch.allclose(states[0, 0], changed_states[0, 0], atol=1e-3)  # the first token saw it
    assert torch.allclose(states[1:], changed_states[1:])


def test_cross_attention_maps_are_distributions_over_the_real_source(model, sources):
    maps = model.cross_attention_maps(sources, torch.randint(3, 12, (4, 7)))
    assert torch.allclose(maps.sum(dim=-1), torch.ones(maps.shape[:-1]))
    assert (maps[:, 1, ..., 6:] == 0).all() and (maps[:, 2, ..., 3:] == 0).all() and (maps[:, 0] > 0).all()


def test_dropout_only_in_training_mode(model, sources):
    tgt = torch.randint(3, 12, (4, 7))
    model.train()
    try:
        assert not torch.equal(model(sources, tgt), model(sources, tgt))
        assert torch.equal(model.cross_attention_maps(sources, tgt), model.cross_attention_maps(sources, tgt))
        assert model.training
    finally:
        model.eval()


# --- generation ------------------------------------------------------------------------------------------


def test_cached_decoding_equals_the_full_forward_pass(model, sources):
    tgt = torch.randint(3, 12, (4, 8))
    memory, cache = model.memory(sources), KVCache(CONFIG.n_decoder_layer)
    chunks = [(0, 3), (3, 4), (4, 8)]  # the new queries must line up with the last keys
    steps = torch.cat([model.decode(tgt[:, start:stop], memory, cache) for start, stop in chunks], dim=1)
    assert (steps - model(sources, tgt)).abs().max() < 1e-5


@pytest.mark.parametrize("which", ["model", "trained"])
def test_cached_generation_equals_recomputation(which, request, sources):
    model = request.getfixturevalue(which)
    src = sources if which == "model" else right_padded([s for s, _ in PAIRS])
    assert model.greedy(src, 10) == model.greedy(src, 10, use_cache=False)
    assert model.beam_search(src, 3, 10) == model.beam_search(src, 3, 10, use_cache=False)


def test_the_source_is_encoded_once_per_generation(model, sources):
    calls = {"encoder": 0, "cross keys": 0, "decoder steps": 0}
    hooks = [model.encoder[0].register_forward_hook(lambda *_: calls.__setitem__("encoder", calls["encoder"] + 1)),
             model.decoder[0].cross_attn.k_proj.register_forward_hook(
                 lambda *_: calls.__setitem__("cross keys", calls["cross keys"] + 1)),
             model.decoder[0].register_forward_hook(
                 lambda *_: calls.__setitem__("decoder steps", calls["decoder steps"] + 1))]
    try:
        generated = model.beam_search(sources, 3, 10)
    finally:
        for hook in hooks:
            hook.remove()
    assert calls["encoder"] == 1 and calls["cross keys"] == 1
    assert calls["decoder steps"] == max(len(ids) for ids in generated) == 10


def test_beam_width_one_is_greedy(model, trained, sources):
    assert model.beam_search(sources, 1, 10) == model.greedy(sources, 10)
    src = right_padded([s for s, _ in PAIRS])
    assert trained.beam_search(src, 1, 10) == trained.greedy(src, 10)


def test_beam_search_scores_at_least_as_high_as_greedy(model):
    torch.manual_seed(2)
    src = torch.randint(3, 12, (8, 9))
    greedy = model.greedy(src, 8)
    better = 0
    for width in (2, 4):
        for row, (g, b) in enumerate(zip(greedy, model.beam_search(src, width, 8))):
            greedy_score, beam_score = (log_probability(model, src[row], ids, 8) for ids in (g, b))
            assert beam_score >= greedy_score - 1e-5
            better += beam_score > greedy_score + 1e-5
    assert better > 0  # the random model gives beam search something to find


def test_a_wide_beam_finds_the_most_likely_target():
    config = Seq2SeqConfig(vocab_size=5, d_model=16, n_head=2, n_encoder_layer=1, n_decoder_layer=1, d_ff=16,
                           max_source_len=4, max_target_len=3)
    torch.manual_seed(3)
    model = randomize(EncoderDecoder(config))
    src = torch.randint(3, 5, (3, 4))
    found = model.beam_search(src, 25, 3)  # 25 = 5²: nothing is pruned before the last step
    for row in range(3):
        targets = {tuple(until_eos([BOS, *ids])) for ids in itertools.product(range(5), repeat=3)}
        scores = {ids: log_probability(model, src[row], list(ids), 3) for ids in targets}
        assert list(max(scores, key=scores.get)) == found[row]


def test_an_overfit_model_reproduces_its_targets(trained):
    src = right_padded([s for s, _ in PAIRS])
    assert trained.greedy(src, 10) == [t for _, t in PAIRS]
    assert trained.beam_search(src, 3, 10) == [t for _, t in PAIRS]
    maps = trained.cross_attention_maps(src[1:2], torch.tensor([[BOS, *PAIRS[1][1]]]))
    assert maps.shape == (2, 1, 4, 7, 6)


# --- Hugging Face ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("padded", [False, True])
def test_hugging_face_marian_gives_the_same_logits(model, sources, padded):
    src = sources if padded else torch.randint(3, 12, (4, 10))
    tgt = torch.cat([torch.full((4, 1), BOS), torch.randint(3, 12, (4, 7))], dim=1)
    hf = to_hf(model)
    theirs = hf(input_ids=src, attention_mask=(src != PAD).long(), decoder_input_ids=tgt).logits
    assert (theirs - model(src, tgt)).abs().max() < 1e-4


def test_hugging_face_cross_attentions_are_our_maps(model, sources):
    tgt = torch.randint(3, 12, (4, 7))
    hf = to_hf(model)
    hf.set_attn_implementation("eager")  # the fused kernel does not return its weights
    out = hf(input_ids=sources, attention_mask=(sources != PAD).long(), decoder_input_ids=tgt,
             output_attentions=True)
    assert (torch.stack(out.cross_attentions) - model.cross_attention_maps(sources, tgt)).abs().max() < 1e-5


def test_save_pretrained_and_auto_model_offline(model, sources, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    to_hf(model).save_pretrained(tmp_path / "marian")
    reloaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "marian").eval()
    assert type(reloaded).__name__ == "MarianMTModel"
    tgt = torch.randint(3, 12, (4, 6))
    theirs = reloaded(input_ids=sources, attention_mask=(sources != PAD).long(), decoder_input_ids=tgt).logits
    assert (theirs - model(sources, tgt)).abs().max() < 1e-4


@pytest.mark.parametrize("which", ["model", "trained"])
def test_hugging_face_greedy_generation_matches_ours(which, request, sources):
    model = request.getfixturevalue(which)
    src = sources if which == "model" else right_padded([s for s, _ in PAIRS])
    plain = GenerationConfig(max_new_tokens=10, num_beams=1, do_sample=False, decoder_start_token_id=BOS,
                             eos_token_id=EOS, pad_token_id=PAD, forced_bos_token_id=None, forced_eos_token_id=None,
                             length_penalty=1.0, repetition_penalty=1.0, no_repeat_ngram_size=0, min_length=0)
    theirs = to_hf(model).generate(input_ids=src, attention_mask=(src != PAD).long(), generation_config=plain)
    assert [until_eos(row) for row in theirs.tolist()] == model.greedy(src, 10)


# --- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("src, tgt, error, message", [
    (torch.randint(3, 12, (2, 17)), torch.randint(3, 12, (2, 5)), ValueError, "17 tokens .* max_source_len=16"),
    (torch.randint(3, 12, (2, 5)), torch.randint(3, 12, (2, 13)), ValueError, "13 tokens .* max_target_len=12"),
    (torch.tensor([[3, -1]]), torch.tensor([[1]]), ValueError, "id -1 is out of range"),
    (torch.tensor([[3, 4]]), torch.tensor([[1, 12]]), ValueError, "id 12 is out of range for vocab_size=12"),
    (torch.tensor([[3.0, 4.0]]), torch.tensor([[1]]), TypeError, "torch.float32"),
    (torch.tensor([[PAD, PAD]]), torch.tensor([[1]]), ValueError, "source 0 is all padding"),
    (torch.tensor([3, 4]), torch.tensor([[1]]), ValueError, r"shape \(batch, length"),
    (torch.tensor([[3, 4]]), torch.tensor([[1], [1]]), ValueError, "2 targets for 1 sources"),
])
def test_bad_input_is_a_clear_error(model, src, tgt, error, message):
    with pytest.raises(error, match=message):
        model(src, tgt)


@pytest.mark.parametrize("kwargs, message", [
    ({"beam_width": 0}, "beam_width must be .* got 0"), ({"beam_width": 1.5}, "beam_width .* got 1.5"),
    ({"beam_width": True}, "beam_width .* got True"), ({"max_new_tokens": 0}, "max_new_tokens .* got 0"),
    ({"max_new_tokens": 13}, "max_new_tokens=13 is more than the model's max_target_len=12"),
])
def test_bad_generation_arguments_are_clear_errors(model, sources, kwargs, message):
    with pytest.raises(ValueError, match=message):
        model.beam_search(sources, **{"beam_width": 2, "max_new_tokens": 5, **kwargs})
    if "max_new_tokens" in kwargs:
        with pytest.raises(ValueError, match=message):
            model.greedy(sources, kwargs["max_new_tokens"])


def test_generation_rejects_bad_sources(model):
    with pytest.raises(TypeError, match="integer tensor"):
        model.greedy(torch.rand(2, 5), 5)
    with pytest.raises(ValueError, match="max_source_len"):
        model.beam_search(torch.randint(3, 12, (1, 20)), 2, 5)


def test_numpy_counts_in_a_config_are_stored_as_ints():
    import json

    import numpy as np

    config = Seq2SeqConfig(vocab_size=np.int64(12), d_model=np.int64(8), n_head=2, eos_id=np.int64(2))
    assert config == Seq2SeqConfig(vocab_size=12, d_model=8, n_head=2, eos_id=2)
    json.dumps(config.to_dict())  # what a checkpoint's header holds
