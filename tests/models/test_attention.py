from contextlib import contextmanager

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from greenlab.measurement.energy import Measurement, count_flops
from greenlab.models.attention import (attention_flops, block_sparse, causal, check_mask, default_block, density,
                                       dilated, flex_sliding_window, global_tokens, masked_dense_attention,
                                       random_blocks, sliding_window, sliding_window_attention, strided)
from greenlab.models.gpt import GPT, GPTConfig


def qkv(batch, heads, length, head_dim, seed=0, grad=False):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, heads, length, head_dim, generator=generator, requires_grad=grad) for _ in range(3)]


# --- patterns ---------------------------------------------------------------------------------------------

def test_sliding_window_sees_itself_and_the_window_before():
    assert sliding_window(4, 2).int().tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]


def test_causal_aligns_cached_keys_and_adds_global_tokens():
    assert causal(2, 4).tolist() == [[True, True, True, False], [True, True, True, True]]
    mask = global_tokens(6, window=2, n_global=1)
    assert mask[5].int().tolist() == [1, 0, 0, 0, 1, 1]
    assert not mask.triu(1).any()


def test_dilated_and_strided_patterns():
    assert dilated(7, window=3, dilation=2)[6].int().tolist() == [0, 0, 1, 0, 1, 0, 1]
    assert strided(9, stride=3)[8].int().tolist() == [0, 0, 1, 0, 0, 1, 1, 1, 1]


def test_block_patterns_expand_layouts_causally():
    layout = torch.tensor([[True, False], [True, True]])
    assert torch.equal(block_sparse(layout, 2), causal(4))
    mask = random_blocks(16, block=4, n_random=1, seed=3)
    assert torch.equal(mask, random_blocks(16, block=4, n_random=1, seed=3))
    assert not mask.triu(1).any() and mask.any(dim=-1).all()
    assert (mask.view(4, 4, 4, 4).any(dim=(1, 3)).sum(dim=1) == torch.tensor([1, 2, 2, 2])).all()


def test_density_and_flops_of_a_pattern():
    mask = sliding_window(8, 2)
    assert density(mask) == 15 / 64
    assert attention_flops(mask, head_dim=4, n_head=2) == 4 * 4 * 2 * 15
    assert density(causal(100)) == pytest.approx(0.505)


@pytest.mark.parametrize("call, message", [
    (lambda: sliding_window(8, 0), "window must be a whole number >= 1"),
    (lambda: strided(8, -1), "stride must be a whole number >= 1"),
    (lambda: random_blocks(10, block=4, n_random=1), "not a multiple of block=4"),
    (lambda: random_blocks(16, block=4, n_random=-1), "n_random must be a whole number >= 0"),
    (lambda: block_sparse(torch.ones(2, 3, dtype=torch.bool), 2), "square boolean"),
    (lambda: check_mask(torch.ones(3, 3), 3, 3), "must be boolean"),
    (lambda: check_mask(causal(3), 4, 4), "has shape (3, 3)"),
    (lambda: check_mask(causal(3).triu(1), 3, 3), "query 0 may attend to no key"),
])
def test_bad_patterns_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


# --- kernels ----------------------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(batch=st.integers(1, 3), heads=st.integers(1, 3), length=st.integers(1, 300), window=st.integers(1, 320),
       n_global=st.integers(0, 20), block=st.sampled_from([1, 8, 32, 64, 128]))
def test_blocked_kernel_equals_masked_dense(batch, heads, length, window, n_global, block):
    q, k, v = qkv(batch, heads, length, 8, seed=length)
    expected = masked_dense_attention(q, k, v, causal(length, window=window, n_global=n_global))
    got = sliding_window_attention(q, k, v, window, n_global, block)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("length, window, n_global", [(257, 64, 0), (100, 1, 0), (64, 100, 0), (200, 16, 4)])
def test_blocked_kernel_gradients_equal_masked_dense(length, window, n_global):
    dense, blocked = qkv(2, 2, length, 16, grad=True), qkv(2, 2, length, 16, grad=True)
    masked_dense_attention(*dense, causal(length, window=window, n_global=n_global)).pow(2).sum().backward()
    sliding_window_attention(*blocked, window, n_global, block=32).pow(2).sum().backward()
    for a, b in zip(dense, blocked):
        assert torch.allclose(a.grad, b.grad, atol=1e-5)


def test_blocked_kernel_with_cached_keys_sees_the_window_of_the_last_query():
    q, k, v = qkv(1, 2, 10, 8)
    got = sliding_window_attention(q[:, :, -3:], k, v, window=4)
    assert torch.allclose(got, sliding_window_attention(q, k, v, window=4)[:, :, -3:], atol=1e-6)


def test_flex_attention_forward_equals_masked_dense():
    q, k, v = qkv(2, 2, 300, 16)
    with torch.no_grad():
        got = flex_sliding_window(q, k, v, window=50, n_global=2)
    assert torch.allclose(got, masked_dense_attention(q, k, v, causal(300, window=50, n_global=2)), atol=1e-5)


def test_flex_attention_in_training_on_cpu_falls_back_with_a_message_to_the_same_numbers():
    flex, dense = qkv(1, 2, 40, 8, grad=True), qkv(1, 2, 40, 8, grad=True)
    with pytest.warns(UserWarning, match="no backward pass on CPU.*blocked sliding-window kernel"):
        got = flex_sliding_window(*flex, window=8, n_global=2)
    expected = masked_dense_attention(*dense, causal(40, window=8, n_global=2))
    assert torch.allclose(got, expected, atol=1e-5)
    got.pow(2).sum().backward()
    expected.pow(2).sum().backward()
    for a, b in zip(flex, dense):
        assert torch.allclose(a.grad, b.grad, atol=1e-5)


@pytest.mark.parametrize("call, message", [
    (lambda q, k, v: sliding_window_attention(q, k, v, 0), "window must be a whole number >= 1"),
    (lambda q, k, v: sliding_window_attention(q, k, v, 4, block=0), "block must be a whole number >= 1"),
    (lambda q, k, v: sliding_window_attention(q, k, v, 4, n_global=-2), "n_global must be a whole number >= 0"),
    (lambda q, k, v: sliding_window_attention(q[0], k, v, 4), r"must be \(batch, heads, length, head_dim\)"),
    (lambda q, k, v: masked_dense_attention(q, k, v, causal(5)), r"mask has shape \(5, 5\)"),
    (lambda q, k, v: masked_dense_attention(q, k, v, ~causal(6)), "may attend to no key"),
])
def test_bad_kernel_input_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call(*qkv(1, 1, 6, 4))


# --- in the model -----------------------------------------------------------------------------------------

WINDOWED = GPTConfig(vocab_size=50, block_size=40, n_layer=2, n_head=2, n_embd=16, window=6)


@pytest.mark.parametrize("attention", ["math", "blocked", "flex"])
def test_every_attention_path_gives_the_windowed_models_logits(attention):
    torch.manual_seed(0)
    reference = GPT(WINDOWED).eval()
    other = GPT(GPTConfig(**{**WINDOWED.to_dict(), "attention": attention})).eval()
    other.load_state_dict(reference.state_dict())
    ids = torch.randint(0, 50, (2, 33))
    with torch.no_grad():
        assert torch.allclose(other(ids), reference(ids), atol=1e-5)


def test_windowed_model_trains_and_generates_the_same_with_and_without_cache():
    torch.manual_seed(0)
    model = GPT(GPTConfig(**{**WINDOWED.to_dict(), "attention": "blocked"}))
    ids = torch.randint(0, 50, (2, 40))
    model(ids).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    prompt = torch.randint(0, 50, (1, 3))
    assert torch.equal(model.generate(prompt, 20, temperature=0), model.generate(prompt, 20, temperature=0,
                                                                                 use_cache=False))


def test_window_in_config_is_validated_and_counted():
    with pytest.raises(ValueError, match="GPTConfig.window must be a whole number >= 1"):
        GPTConfig(window=0)
    dense = GPT(GPTConfig(**{**WINDOWED.to_dict(), "window": None}))
    masked, blocked = GPT(WINDOWED), GPT(GPTConfig(**{**WINDOWED.to_dict(), "attention": "blocked"}))
    assert masked.flops_per_token() == dense.flops_per_token()  # the dense path computes the square, then masks
    assert dense.flops_per_token() - blocked.flops_per_token() == 4 * 2 * (40 - 6) * 16


def test_hugging_face_export_refuses_a_sliding_window():
    from greenlab.models.interop import to_hf

    with pytest.raises(ValueError, match="sliding window of 6"):
        to_hf(GPT(WINDOWED))


# --- measuring --------------------------------------------------------------------------------------------

def test_peak_memory_sees_a_large_allocation():
    from greenlab.measurement.memory import can_measure, peak_memory_mib

    if not can_measure():
        assert peak_memory_mib(lambda: None) is None
        return
    assert peak_memory_mib(lambda: torch.ones(64, 2**20).sum()) >= 200  # 256 MiB of float32, touched


def test_compare_times_keeps_the_fastest_call_of_each_kernel_doing_its_own_work(monkeypatch):
    from greenlab.experiments import attention_scaling

    length, window = 128, 32
    q, k, v = qkv(1, 1, length, 8, grad=True)
    own_work = {"causal SDPA": lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                "masked dense": lambda: masked_dense_attention(q, k, v, causal(length, window=window)),
                "blocked": lambda: sliding_window_attention(q, k, v, window)}
    timed = []

    def injected_seconds(calls, rounds):
        timed.append((list(calls), rounds, {name: count_flops(calls[name])[1] for name in own_work}))
        return {name: [3.0 + i, 1.0 + i, 2.0 + i] for i, name in enumerate(calls)}

    monkeypatch.setattr(attention_scaling, "interleaved_seconds", injected_seconds)
    both = attention_scaling.compare_times([length], window=window, heads=1, head_dim=8, rounds=3)
    assert both == {"causal SDPA": {length: 1.0}, "masked dense": {length: 2.0}, "blocked": {length: 3.0}}
    attention_scaling.compare_times([length], window=window, heads=1, head_dim=8, backward=False, rounds=3)
    (trained, trained_rounds, trained_flops), (forward, forward_rounds, forward_flops) = timed
    assert trained == list(own_work) and forward == list(own_work) + ["flex"]  # FlexAttention: no backward on a CPU
    assert trained_rounds == forward_rounds == 3
    assert forward_flops == {name: count_flops(work)[1] for name, work in own_work.items()}
    assert trained_flops == {name: count_flops(lambda: work().sum().backward())[1] for name, work in own_work.items()}


def test_ratios_are_the_baselines_cost_over_each_kernels():
    from greenlab.experiments.attention_scaling import ratios

    seconds = {"causal SDPA": {64: 2.0, 128: 6.0}, "blocked": {64: 4.0, 128: 2.0}, "masked dense": {64: 1.0}}
    assert ratios(seconds) == {"blocked": {64: 0.5, 128: 3.0}, "masked dense": {64: 2.0}}


def test_compare_energy_divides_each_measured_block_by_its_calls(monkeypatch):
    from greenlab.experiments import attention_scaling

    blocks = []

    @contextmanager
    def injected_measure(label, **options):
        m = Measurement(label, "USA", method="injected")
        blocks.append((label, options))
        yield m
        m.energy_kwh = 3 * len(blocks) / 3.6e6  # the n-th block: 3n joules

    monkeypatch.setattr(attention_scaling, "measure", injected_measure)
    monkeypatch.setattr(attention_scaling, "repeat_for", lambda work, min_seconds: (work() + work() + work(), 0.1))
    joules, method = attention_scaling.compare_energy([64, 128], window=32, heads=1, head_dim=8, min_seconds=0.05)
    names = ["causal SDPA", "masked dense", "blocked"]
    assert blocks == [(f"attention {name}, L={length}", {"record": False}) for length in (64, 128) for name in names]
    expected = {name: {64: i + 1.0, 128: i + 4.0} for i, name in enumerate(names)}  # 3n joules over 3 calls
    assert joules == {name: pytest.approx(row) for name, row in expected.items()} and method == "injected"


def test_compare_memory_finds_a_length_squared_array_only_in_the_masked_dense_kernel():
    from greenlab.experiments.attention_scaling import compare_memory

    memory = compare_memory([1024], window=32, heads=1, head_dim=8)
    assert list(memory) == ["causal SDPA", "masked dense", "blocked"] and all(list(row) == [1024]
                                                                             for row in memory.values())
    if memory["blocked"][1024] is None:  # no peak-memory counter on this system
        return
    square_mib = 1024 * 1024 * 4 / 2**20  # the masked kernel's mask, as 1024 × 1024 float32 additive scores
    blocked_mib = 1024 * (32 + 32) * 4 / 2**20  # the blocked kernel's: a band of window + block keys per query
    assert memory["masked dense"][1024] >= square_mib and memory["blocked"][1024] < 4 * blocked_mib


def test_the_zoo_has_the_sliding_window_twin_of_the_reference():
    from greenlab.training import zoo

    reference, windowed = zoo.recipe("reference"), zoo.recipe("sliding-window")
    assert windowed.model.window == reference.model.block_size // 4 and windowed.model.attention == "blocked"
    assert windowed.training == reference.training and windowed.fingerprint() != reference.fingerprint()


@pytest.mark.parametrize("attention", ["blocked", "flex"])
def test_sparse_kernels_without_a_window_are_dense_causal_also_with_a_cache(attention):
    torch.manual_seed(0)
    dense = GPT(GPTConfig(**{**WINDOWED.to_dict(), "window": None})).eval()
    other = GPT(GPTConfig(**{**WINDOWED.to_dict(), "window": None, "attention": attention})).eval()
    other.load_state_dict(dense.state_dict())
    prompt = torch.randint(0, 50, (1, 5))
    assert torch.equal(other.generate(prompt, 12, temperature=0), dense.generate(prompt, 12, temperature=0))


def test_strided_pairs_are_about_one_and_a_half_n_root_n():
    for length in (1024, 4096):
        stride = round(length ** 0.5)
        pairs = int(strided(length, stride).sum())
        assert 1.4 < pairs / (length * stride) < 1.55, (length, pairs)


def test_default_block_is_the_window_between_16_and_128():
    assert [default_block(w) for w in (1, 32, 256)] == [16, 32, 128]
    with pytest.raises(ValueError, match="window"):
        default_block(0)


def test_blocked_kernels_work_is_linear_in_the_length():
    """The FLOPs (not the time, which the benchmark measures) of forward + backward per token are the same at every
    length: the blocked kernel does O(L·w) work, with no hidden quadratic part."""
    per_token = set()
    for length in (512, 1024, 2048, 4096, 8192):
        q, k, v = qkv(1, 4, length, 64, grad=True)
        _, flops = count_flops(lambda: sliding_window_attention(q, k, v, 256).sum().backward())
        per_token.add(flops / length)
    assert len(per_token) == 1, per_token


@pytest.mark.parametrize("call, message", [
    (lambda: density(torch.ones(0, 0, dtype=torch.bool)), "a non-empty boolean"),  # once ZeroDivisionError
    (lambda: density(torch.full((2, 2), 5)), "must be boolean"),  # once a density of 500 %
    (lambda: attention_flops(causal(4), "4"), "head_dim must be a whole number >= 1, got '4'"),  # once '4444…'
    (lambda: attention_flops(causal(4), -1), "head_dim must be a whole number >= 1, got -1"),
    (lambda: attention_flops(causal(4), 4, n_head=0), "n_head must be a whole number >= 1, got 0"),
    (lambda: attention_flops(torch.ones(4, 4), 4), "must be boolean"),
])
def test_density_and_flops_take_a_boolean_pattern_and_whole_sizes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("call, name, value", [
    (lambda: sliding_window("8", 2), "length", "8"), (lambda: sliding_window(2.5, 2), "length", 2.5),
    (lambda: causal(-1), "query_length", -1), (lambda: causal(4, key_length=-1), "key_length", -1),
    (lambda: dilated(True, 2, 2), "length", True), (lambda: strided(None, 3), "length", None),
    (lambda: global_tokens(0, 2, 1), "length", 0), (lambda: random_blocks(16.0, 4, 1), "length", 16.0),
])
def test_pattern_lengths_are_whole_numbers_named_as_such(call, name, value):
    # a float once made a mask of its rounded-up length, a string or a negative one an error from inside torch
    with pytest.raises(ValueError, match=f"{name} must be a whole number >= .*, got {value!r}"):
        call()
