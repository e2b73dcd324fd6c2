import importlib
import re

import pytest
import torch

from greenlab.foundations.settings import one_thread

from greenlab.classroom.checks import NOT_IMPLEMENTED, check_function, compare, random_gpt
from greenlab.classroom.exercises import lab00


def _matrices(generator):
    return torch.randn(3, 4, generator=generator), torch.randn(5, 4, generator=generator)


def reference(X, Y):
    return X @ Y.T


def _own(library_function):
    """The library's function as a learner who wrote the same thing would submit it: a function of their own."""
    return lambda *args, **kwargs: library_function(*args, **kwargs)


def _diagnosis(result) -> str:
    """What a ✗ says is wrong: its message up to the hint (whose wording may change)."""
    return result.message.split("Hint:")[0]


def _rejected(result, *diagnoses: str):
    """Assert that `result` is a ✗ whose diagnosis says each of `diagnoses`; return it."""
    assert not result.passed and not result, result
    assert repr(result).startswith(f"✗ {result.exercise}: "), result
    for diagnosis in diagnoses:
        assert diagnosis in _diagnosis(result), result
    return result


def _expected_got(result) -> tuple[float, float]:
    """The two numbers of a ✗ that says "expected X, got Y" (after "item i: " for a list)."""
    number = r"(-?\d[\d.]*(?:e[+-]\d+)?)"
    match = re.search(rf"expected {number}, got {number}", _diagnosis(_rejected(result)))
    assert match, result
    return float(match[1]), float(match[2])


def _not_implemented_yet(result):
    """Assert that `result` is the ✗ a learner sees before replacing the `raise NotImplementedError` line."""
    assert not result.passed, result
    assert repr(result).startswith(f"✗ {result.exercise}: not implemented yet"), result
    assert result.message.startswith(NOT_IMPLEMENTED), result


def test_a_correct_function_passes():
    result = check_function(lambda X, Y: torch.einsum("id,jd->ij", X, Y), reference, _matrices, exercise="sim")
    assert result.passed and bool(result)
    assert repr(result) == "✓ sim: matches the reference on 5 random inputs"


def test_not_implemented_is_friendly():
    def student(X, Y):
        raise NotImplementedError("Exercise: write your code here")

    result = check_function(student, reference, _matrices, exercise="sim")
    assert not result.passed and result.message == NOT_IMPLEMENTED
    assert repr(result).startswith("✗ sim: not implemented yet")


def test_an_exception_names_the_line_not_a_stack_trace():
    def student(X, Y):
        return X @ Y  # forgot the transpose

    result = check_function(student, reference, _matrices, exercise="sim")
    assert not result.passed
    assert "your function raised RuntimeError" in result.message
    assert "line" in result.message and "X @ Y" in result.message
    assert "Traceback" not in result.message


def test_wrong_shape_dtype_nan_and_values_are_diagnosed():
    assert "wrong shape: expected (3, 5), got (5, 3)" in compare(torch.zeros(5, 3), torch.zeros(3, 5))
    assert "wrong dtype" in compare(torch.zeros(2, dtype=torch.float64), torch.zeros(2))
    assert "NaN" in compare(torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 2.0]))
    assert "at index (1,)" in compare(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 2.0]))
    assert "expected a tensor, got list" in compare([1.0], torch.tensor([1.0]))
    assert "expected 42, got 41" in compare(41, 42.0)
    assert "expected a number, got str" in compare("42", 42)
    assert compare(torch.tensor(42.0), 42.0) is None
    assert compare((1, torch.ones(2)), (1, torch.ones(2))) is None
    assert "item 1" in compare((1, torch.zeros(2)), (1, torch.ones(2)))


def test_hint_is_shown_on_failure_only():
    bad = check_function(lambda X, Y: Y @ X.T, reference, _matrices, exercise="sim", hint="rows of X first")
    assert "Hint: rows of X first" in bad.message and "inputs (tensor(3, 4), tensor(5, 4))" in bad.message
    good = check_function(_own(reference), reference, _matrices, exercise="sim", hint="rows of X first")
    assert good.passed and "Hint" not in good.message


def test_not_a_function():
    result = check_function(None, reference, _matrices, exercise="sim")
    assert not result.passed and "expected a function" in result.message


def test_lab00_checks_accept_right_and_reject_wrong_answers():
    assert lab00.check_training_flops(lambda n, d: 6 * n * d).passed
    expected, got = _expected_got(lab00.check_training_flops(lambda n, d: 2 * n * d))  # the forward pass only
    assert got == pytest.approx(expected / 3, rel=1e-4)
    assert lab00.check_energy_kwh(lambda h, w, pue: h * w * pue / 1000).passed
    expected, got = _expected_got(lab00.check_energy_kwh(lambda h, w, pue: h * w * pue))  # Wh, not kWh
    assert got == pytest.approx(expected * 1000, rel=1e-4)
    expected, got = _expected_got(lab00.check_energy_kwh(lambda h, w, pue: h * w / 1000))  # the PUE forgotten
    assert got < expected
    assert lab00.check_co2eq_kg(lambda kwh, g: kwh * g / 1000).passed
    expected, got = _expected_got(lab00.check_co2eq_kg(lambda kwh, g: kwh * g))  # grams, not kilograms
    assert got == pytest.approx(expected * 1000, rel=1e-4)
    assert lab00.check_squared_distances(lambda X, Y: torch.cdist(X, Y) ** 2).passed
    _rejected(lab00.check_squared_distances(lambda X, Y: torch.cdist(X, Y)), "values differ")  # not squared
    transposed = _rejected(lab00.check_squared_distances(lambda X, Y: torch.cdist(Y, X) ** 2), "wrong shape")
    assert re.search(r"expected \((\d+), (\d+)\), got \(\2, \1\)", _diagnosis(transposed)), transposed


def _count_pairs_in_a_loop(ids, stop=1):
    counts = {}
    for i in range(len(ids) - stop):  # stop=2: the off-by-one that misses the last pair
        counts[ids[i], ids[i + 1]] = counts.get((ids[i], ids[i + 1]), 0) + 1
    return counts


def _merge_in_a_loop(ids, pair, new_id, skip=2):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += skip  # skip=1: the second token of the pair is kept, and [1, 1, 1] gives [99, 99, 1]
        else:
            out.append(ids[i])
            i += 1
    return out


def _encode_in_a_loop(text, merges, pick="earliest", rounds=None):
    """The plain BPE encoding loop; pick="most frequent" merges the text's commonest pair first (as training does),
    rounds=1 stops after one merge."""
    from greenlab.foundations.tokenizer.bpe import merge

    ids, rank = list(text.encode("utf-8")), {pair: i for i, pair in enumerate(merges)}
    while rounds is None or rounds > 0:
        present = [p for p in zip(ids, ids[1:]) if p in merges]
        if not present:
            break
        pair = min(present, key=rank.get) if pick == "earliest" else max(present, key=present.count)
        ids = merge(ids, pair, merges[pair])
        rounds = None if rounds is None else rounds - 1
    return ids


def test_lab01_checks_reject_a_learners_mistakes():
    from greenlab.classroom.exercises import lab01

    assert lab01.check_count_pairs(_count_pairs_in_a_loop).passed
    missed_last = _rejected(lab01.check_count_pairs(lambda ids: _count_pairs_in_a_loop(ids, stop=2)))
    assert re.search(r"^expected \{.*, got \{", _diagnosis(missed_last)), missed_last
    assert lab01.check_merge(_merge_in_a_loop).passed
    _rejected(lab01.check_merge(lambda ids, pair, new_id: _merge_in_a_loop(ids, pair, new_id, skip=1)),
              "expected a list of")
    assert lab01.check_encode(_encode_in_a_loop).passed
    _rejected(lab01.check_encode(lambda text, merges: _encode_in_a_loop(text, merges, pick="most frequent")),
              "expected", "got")
    _rejected(lab01.check_encode(lambda text, merges: _encode_in_a_loop(text, merges, rounds=1)), "expected a list of")
    _rejected(lab01.check_encode(lambda text, merges: list(text.encode("utf-8"))), "expected a list of")  # no merge

    assert lab01.check_training_flops_for_text(lambda text, tokenizer, n: 6 * n * len(tokenizer.encode(text))).passed
    expected, got = _expected_got(lab01.check_training_flops_for_text(lambda text, tokenizer, n: 6 * n * len(text)))
    assert got > expected  # characters, not tokens: BPE tokens hold several characters
    expected, got = _expected_got(lab01.check_training_flops_for_text(
        lambda text, tokenizer, n: 2 * n * len(tokenizer.encode(text))))  # the forward pass only
    assert got == pytest.approx(expected / 3, rel=1e-4)


def _multi_head_attention(x, w_qkv, b_qkv, w_out, b_out, n_head, heads="transposed", causal=True):
    """Multi-head attention written out; heads="reshaped" puts the heads first with a reshape and no transpose."""
    import torch.nn.functional as F

    B, T, C = x.shape
    q, k, v = (x @ w_qkv.T + b_qkv).split(C, dim=-1)
    if heads == "transposed":
        q, k, v = (t.reshape(B, T, n_head, C // n_head).transpose(1, 2) for t in (q, k, v))
    else:
        q, k, v = (t.reshape(B, n_head, T, C // n_head) for t in (q, k, v))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    return y.transpose(1, 2).reshape(B, T, C) @ w_out.T + b_out


def _block_forward(x, block):
    x = x + block.attn(block.ln_1(x))
    return x + block.mlp(block.ln_2(x))


def test_lab02_multi_head_attention_and_block_checks():
    from greenlab.classroom.exercises import lab02

    assert lab02.check_multi_head_attention(_multi_head_attention).passed
    _rejected(lab02.check_multi_head_attention(lambda *args: _multi_head_attention(*args, heads="reshaped")),
              "values differ")
    _rejected(lab02.check_multi_head_attention(lambda *args: _multi_head_attention(*args, causal=False)),
              "values differ")  # the mask forgotten: the past sees the future
    _rejected(lab02.check_multi_head_attention(lambda x, w, b, w_out, b_out, n_head: _multi_head_attention(
        x, w, b, w_out, b_out, 1)), "values differ")  # one wide head
    _rejected(lab02.check_multi_head_attention(lambda x, w, b, w_out, b_out, n_head: x @ w_out.T + b_out),
              "values differ")  # the attention left out

    assert lab02.check_block_forward(_block_forward).passed
    _rejected(lab02.check_block_forward(lambda x, b: b.ln_2(x + b.mlp(b.ln_1(x + b.attn(x))))),
              "values differ")  # post-LayerNorm, as in the 2017 paper
    _rejected(lab02.check_block_forward(lambda x, b: x + b.attn(b.ln_1(x)) + b.mlp(b.ln_2(x))),
              "values differ")  # the MLP reads x before attention's update
    _rejected(lab02.check_block_forward(lambda x, b: b.mlp(b.ln_2(b.attn(b.ln_1(x))))),
              "values differ")  # no residual connections


def test_lab01_and_lab02_checks_accept_the_library_and_reject_mistakes():
    from collections import Counter

    from greenlab.classroom.exercises import lab01, lab02
    from greenlab.foundations.tokenizer.bpe import encode_bytes, merge
    from greenlab.models.gpt import math_attention

    assert lab01.check_count_pairs(lambda ids: Counter(zip(ids, ids[1:]))).passed
    assert lab01.check_merge(_own(merge)).passed
    _rejected(lab01.check_merge(lambda ids, pair, new: ids), "expected a list of")
    assert lab01.check_encode(lambda text, merges: encode_bytes(text.encode(), merges)).passed
    assert lab02.check_causal_attention(_own(math_attention)).passed
    unscaled = lab02.check_causal_attention(lambda q, k, v: (q @ k.transpose(-2, -1)).softmax(-1) @ v)
    assert "Hint" in _rejected(unscaled, "values differ").message
    unmasked = lab02.check_causal_attention(lambda q, k, v: (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5)
                                            .softmax(-1) @ v)
    _rejected(unmasked, "values differ")  # the future not masked


def test_check_training_compares_with_the_reference(cache):
    from greenlab.classroom.exercises import lab02

    no_residual = lab02.check_training(lambda x, block: block.mlp(block.ln_2(block.attn(block.ln_1(x)))))
    _rejected(no_residual, "after 20 steps your GPT's loss is", "and the reference's")
    assert lab02.check_training(lambda x, block: type(block).__mro__[1].forward(block, x)).passed


def test_lab03_checks_accept_the_library_and_reject_mistakes():
    from greenlab.classroom.exercises import lab03
    from greenlab.models.attention import causal, masked_dense_attention, sliding_window_attention, strided

    assert lab03.check_sliding_window_mask(lambda n, w: causal(n, window=w)).passed
    _rejected(lab03.check_sliding_window_mask(lambda n, w: causal(n, window=w + 1)), "values differ")  # off by one
    _rejected(lab03.check_sliding_window_mask(lambda n, w: causal(n, window=w).T), "values differ")  # the future
    assert lab03.check_strided_mask(_own(strided)).passed
    _rejected(lab03.check_strided_mask(lambda n, s: causal(n)), "values differ")  # the stride forgotten
    _rejected(lab03.check_strided_mask(lambda n, s: causal(n, window=s)), "values differ")  # the long-range keys
    assert lab03.check_blocked_attention(lambda q, k, v, w, b: sliding_window_attention(q, k, v, w, block=b)).passed
    dense = lab03.check_blocked_attention(
        lambda q, k, v, w, b: masked_dense_attention(q, k, v, causal(q.shape[-2], window=w)))
    _rejected(dense, "correct, but only", "faster than the masked dense computation")
    wrong = lab03.check_blocked_attention(lambda q, k, v, w, b: sliding_window_attention(q, k, v, w + 1))
    _rejected(wrong, "outputs differ from the masked reference")


def test_lab03_prediction_passes_within_a_factor_of_two():
    from greenlab.classroom.exercises import lab03

    def measured(length):
        return 2.0

    assert lab03.check_prediction(2048, lambda n: 3.0, measured).passed
    _rejected(lab03.check_prediction(2048, lambda n: 10.0, measured), "predicted 10.0x, measured 2.0x",
              "off by a factor 5.0")
    _rejected(lab03.check_prediction(2048, lambda n: 0.5, measured), "off by a factor 4.0")  # a slowdown predicted
    _rejected(lab03.check_prediction(2048, lambda n: -1, measured), "must be a finite number > 0, got -1")
    _rejected(lab03.check_prediction(100_000, lambda n: 3.0, measured), "from 256 to 16384, got 100000")
    _not_implemented_yet(lab03.check_prediction(2048, _not_implemented, measured))
    with pytest.raises(ValueError, match="between 256 and 16384"):
        lab03.measure_speedup(100)


def _not_implemented(length):
    raise NotImplementedError


def test_lab04_checks_accept_the_library_and_reject_mistakes(tiny):
    import torch.nn.functional as F

    from greenlab.classroom.exercises import lab04
    from greenlab.training import zoo
    from greenlab.training.distill import distillation_loss

    assert lab04.check_kd_loss(_own(distillation_loss)).passed
    no_t2 = lab04.check_kd_loss(lambda s, t, y, T, a: distillation_loss(s, t, y, T, a) / T**2)
    assert "Hint" in _rejected(no_t2, "values differ").message
    hard_only_weighted = lab04.check_kd_loss(lambda s, t, y, T, a: distillation_loss(s, t, y, T, 1 - a))
    _rejected(hard_only_weighted, "values differ")  # alpha weighs the wrong term
    _not_implemented_yet(lab04.check_kd_loss(_not_implemented_function))
    teacher = zoo.load(tiny, progress=False).model
    ids = torch.randint(0, 300, (2000,), generator=torch.Generator().manual_seed(0))

    def student_loss(student, x, y, temperature=2.0, alpha=0.5):
        with torch.no_grad():
            t = teacher(x)
        return distillation_loss(student(x).flatten(0, 1), t.flatten(0, 1), y.flatten(), temperature, alpha)

    assert lab04.check_student_loss(student_loss, teacher, ids).passed
    detached = lab04.check_student_loss(lambda s, x, y: student_loss(s, x, y).detach(), teacher, ids)
    _rejected(detached, "your function raised ValueError", "no gradient")
    _rejected(lab04.check_student_loss(lambda s, x, y: F.cross_entropy(s(x).flatten(0, 1), y.flatten()),
                                       teacher, ids), "values differ")  # the teacher left out
    _rejected(lab04.check_student_loss(lambda s, x, y: student_loss(s, x, y, alpha=1.0), teacher, ids),
              "values differ")  # the soft term only: the targets left out
    _not_implemented_yet(lab04.check_student_loss(_not_implemented_function, teacher, ids))


def test_lab04_temperature_choice_is_checked_by_rerunning_it(tiny, monkeypatch):
    from greenlab.classroom.exercises import lab04

    monkeypatch.setattr(lab04, "short_distillation", lambda teacher, t, train_ids, val_ids: {1.0: 5.0, 2.0: 4.0,
                                                                                               4.0: 4.5}[t])
    args = (None, None, None)
    assert lab04.check_temperature_choice(lambda: ({1.0: 5.0, 2.0: 4.0, 4.0: 4.5}, 2.0), *args).passed
    _rejected(lab04.check_temperature_choice(lambda: ({1.0: 5.0, 2.0: 4.0, 4.0: 4.5}, 4.0), *args),
              "T=4.0 gave 4.5000, but another temperature did better (4.0000)")
    _rejected(lab04.check_temperature_choice(lambda: ({1.0: 5.0, 2.0: 4.0}, 2.0), *args), "at least three")
    _rejected(lab04.check_temperature_choice(lambda: ({1.0: 5.0, 2.0: 4.0, 4.0: 4.5}, 3.0), *args),
              "3.0 is not one of those you tried")
    _rejected(lab04.check_temperature_choice(lambda: ({1.0: 5.0, 2.0: 3.0, 4.0: 4.5}, 2.0), *args),
              "the reference run at T=2.0 reaches 4.0000, you reported 3.0000")  # a loss typed in
    _not_implemented_yet(lab04.check_temperature_choice(_not_implemented_experiment, *args))


def _not_implemented_experiment():
    raise NotImplementedError


def test_lab05_checks(cache, monkeypatch):
    from dataclasses import replace

    from greenlab.classroom.exercises import lab05
    from greenlab.measurement import footprint
    from greenlab.measurement.energy import Measurement
    from greenlab.models.gpt import GPTConfig
    from greenlab.training.train import TrainConfig

    by_region = lab05.check_footprint_by_region(
        lambda n, d, hw, cs: [footprint.estimate(n, d, hw, c, pue=1.1).co2eq_kg / 1000 for c in cs])
    assert by_region.passed
    in_kg = lab05.check_footprint_by_region(lambda n, d, hw, cs: [footprint.estimate(n, d, hw, c, pue=1.1).co2eq_kg
                                                                   for c in cs])  # kilograms, not tonnes
    assert "item 0: expected" in _diagnosis(in_kg)
    expected, got = _expected_got(in_kg)
    assert got == pytest.approx(expected * 1000, rel=1e-4)
    _rejected(lab05.check_footprint_by_region(lambda n, d, hw, cs: [footprint.estimate(n, d, hw, cs[0], pue=1.1)
                                                                    .co2eq_kg / 1000] * len(cs)),
              "item 1: expected")  # every region given the first one's grid
    def greenest(grid, hours):
        return int(footprint.start_hours(grid, hours).idxmin())

    assert lab05.check_greenest_start(greenest).passed
    noon = lab05.check_greenest_start(lambda grid, hours: 12)
    assert "Hint" in _rejected(noon, ", got 12 for inputs").message
    cleanest_hour = lab05.check_greenest_start(lambda grid, hours: int(footprint.hourly_intensity()[grid].idxmin()))
    expected, got = _expected_got(cleanest_hour)  # the cleanest hour, not the cleanest `hours`-long window
    assert expected != got
    lab05.baseline.cache_clear()
    trained = []
    run = lab05.run

    def priced_by_flops(*args):
        """The real run, its energy replaced by a fixed price per FLOP: the check's logic is tested, not how busy
        this machine is (the lab's notebook measures the real thing)."""
        trained.append(args[2])
        result = run(*args)
        joules = result.measurement.flops * 1e-9
        return replace(result, measurement=Measurement(args[2], "USA", duration_s=1.0, energy_kwh=joules / 3.6e6,
                                                       cpu_kwh=joules / 3.6e6, ram_kwh=0.0, available=True))

    monkeypatch.setattr(lab05, "run", priced_by_flops)
    wrong_vocab = lab05.check_greener(lambda: (GPTConfig(vocab_size=4096), lab05.BASELINE_TRAINING))
    _rejected(wrong_vocab, "keep vocab_size=256")
    _rejected(lab05.check_greener(lambda: (lab05.BASELINE_MODEL, None)), "return (GPTConfig(...), TrainConfig(...))")
    solution = lab05.check_greener(lambda: (
        GPTConfig(vocab_size=256, block_size=64, n_layer=2, n_head=4, n_embd=128),
        TrainConfig(steps=240, batch_size=16, block_size=64, learning_rate=2e-3, min_learning_rate=2e-4,
                    warmup_steps=10, eval_interval=240, eval_batches=8)))
    assert solution.passed, solution.message
    assert trained == ["lab05: baseline", "lab05 check: yours"]
    too_short = lab05.check_greener(lambda: (GPTConfig(vocab_size=256, block_size=64, n_layer=1, n_head=2, n_embd=16),
                                             TrainConfig(steps=20, block_size=64, warmup_steps=2, eval_batches=8)))
    _rejected(too_short, "the loss must not be more than 1 % above")
    assert trained == ["lab05: baseline", "lab05 check: yours", "lab05 check: yours"]  # the baseline measured once


def test_lab06_checks_accept_the_library_and_reject_mistakes():
    import math

    from greenlab.classroom.exercises import lab06
    from greenlab.foundations import metrics

    def attention(q, k, v, mask, scale=True, masked=True):
        scores = q @ k.transpose(-2, -1) / (math.sqrt(q.shape[-1]) if scale else 1)
        if masked:
            scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
        return scores.softmax(-1) @ v, scores.softmax(-1)

    assert lab06.check_cross_attention(attention).passed
    unscaled = lab06.check_cross_attention(lambda *args: attention(*args, scale=False))
    assert "Hint" in _rejected(unscaled, "item 0: values differ").message
    _rejected(lab06.check_cross_attention(lambda *args: attention(*args, masked=False)), "values differ")  # padding
    _rejected(lab06.check_cross_attention(lambda *args: attention(*args)[0]), "expected a tuple of 2 items")
    assert "not implemented" in lab06.check_cross_attention(_not_implemented_function).message

    def unclipped(hypothesis, reference, n):
        wanted, found = metrics.ngrams(reference, n), metrics.ngrams(hypothesis, n)
        return sum(count for gram, count in found.items() if gram in wanted), sum(found.values())

    assert lab06.check_modified_precision(_own(metrics.modified_precision)).passed
    expected, got = _expected_got(lab06.check_modified_precision(unclipped))
    assert got > expected  # a repeated n-gram counted more often than the reference has it
    negative_total = lab06.check_modified_precision(lambda h, r, n: (metrics.modified_precision(h, r, n)[0],
                                                                     len(h) - n + 1))
    _rejected(negative_total, "expected 0, got -1")
    assert "not implemented" in lab06.check_modified_precision(_not_implemented_function).message

    assert lab06.check_brevity_penalty(_own(metrics.brevity_penalty)).passed
    empty = lab06.check_brevity_penalty(lambda h, r: 1.0 if h >= r else math.exp(1 - r / h))
    _rejected(empty, "your function raised ZeroDivisionError")
    expected, got = _expected_got(lab06.check_brevity_penalty(lambda h, r: math.exp(1 - r / h) if h else 0.0))
    assert expected == 1 and got > 1  # a longer hypothesis is not penalised, nor rewarded
    expected, got = _expected_got(lab06.check_brevity_penalty(
        lambda h, r: 1.0 if h >= r else (math.exp(1 - h / r) if h else 0.0)))
    assert got > expected  # h / r for r / h: too mild a penalty
    assert "not implemented" in lab06.check_brevity_penalty(_not_implemented_function).message


def _greedy(model, src_ids, max_new_tokens, stop_when="all", keep_bos=False):
    """Greedy decoding written out (the lab's solution), with the mistakes the check must catch as options."""
    c = model.config
    memory = model.memory(src_ids)
    tokens = torch.full((src_ids.shape[0], 1), c.bos_id)
    finished = torch.zeros(src_ids.shape[0], dtype=torch.bool)
    with torch.no_grad():
        for _ in range(max_new_tokens):
            next_token = model.decode(tokens, memory)[:, -1].argmax(dim=-1)
            tokens = torch.cat([tokens, next_token[:, None]], dim=1)
            finished |= next_token == c.eos_id
            if (stop_when == "all" and finished.all()) or (stop_when == "any" and finished.any()):
                break
    rows = tokens.tolist() if keep_bos else [row[1:] for row in tokens.tolist()]
    return rows if stop_when == "never" else [row[:row.index(c.eos_id)] if c.eos_id in row else row for row in rows]


def test_lab06_greedy_decode_check():
    from greenlab.classroom.exercises import lab06

    threads = torch.get_num_threads()
    assert lab06.check_greedy_decode(_greedy).passed
    assert lab06.check_greedy_decode(lambda model, src, n: model.greedy(src, n, use_cache=False)).passed
    never_stops = lab06.check_greedy_decode(lambda model, src, n: _greedy(model, src, n, stop_when="never"))
    assert "Hint" in _rejected(never_stops, "expected a list of").message  # a row not cut at its </s>
    stops_early = lab06.check_greedy_decode(lambda model, src, n: _greedy(model, src, n, stop_when="any"))
    assert re.search(r"item \d+: expected a list of \d+ items, got \[", _diagnosis(_rejected(stops_early)))
    with_bos = lab06.check_greedy_decode(lambda model, src, n: _greedy(model, src, n, keep_bos=True))
    assert re.search(r"item \d+: expected a list of \d+ items, got \[1, ", _diagnosis(_rejected(with_bos)))
    _rejected(lab06.check_greedy_decode(lambda model, src, n: torch.tensor(_greedy(model, src, n, stop_when="never"))),
              "expected a list of", "got tensor(")  # a tensor, not lists of ints
    assert "not implemented" in lab06.check_greedy_decode(_not_implemented_function).message
    with one_thread():
        for seed in range(3):  # some outputs stop at </s> and others go on
            model, src_ids, max_new_tokens = lab06.greedy_case(torch.Generator().manual_seed(seed))
            lengths = [len(row) for row in model.greedy(src_ids, max_new_tokens)]
            assert len(set(lengths)) > 1 and min(lengths) < max_new_tokens
    assert torch.get_num_threads() == threads


def test_lab06_prediction_and_measurement_checks():
    from greenlab.classroom.exercises import lab06
    from greenlab.measurement.energy import Measurement

    assert lab06.check_predicted_ratio(lambda: 3.0).passed
    assert lab06.check_predicted_ratio(lambda: 4).passed
    assert "not implemented" in lab06.check_predicted_ratio(_not_implemented_experiment).message
    for prediction in (None, -1.0, 0, float("nan"), float("inf"), True, "3"):
        _rejected(lab06.check_predicted_ratio(lambda: prediction), "should return a positive number",
                  f"got {prediction!r}")

    def measured(joules):
        return Measurement("decoding", "USA", energy_kwh=2 * joules / 3.6e6, cpu_kwh=joules / 3.6e6,
                           ram_kwh=joules / 3.6e6, method="estimated", available=True)

    greedy, beam = measured(2.0), measured(5.0)
    good = {"greedy": greedy, "beam": beam, "measured_ratio": beam.dynamic_j / greedy.dynamic_j}
    assert lab06.check_beam_energy(good).passed
    typed_in = lab06.check_beam_energy({**good, "measured_ratio": 2.4})
    _rejected(typed_in, "measured_ratio should be beam.dynamic_j / greedy.dynamic_j", "not typed in", "got 2.4")
    upside_down = lab06.check_beam_energy({**good, "measured_ratio": greedy.dynamic_j / beam.dynamic_j})
    _rejected(upside_down, "measured_ratio should be beam.dynamic_j / greedy.dynamic_j")
    stub = lab06.check_beam_energy({})  # the student version's measurement cell raised before defining anything
    _not_implemented_yet(stub)
    assert "greedy, beam, measured_ratio are not defined" in stub.message
    _rejected(lab06.check_beam_energy({"greedy": greedy}), "beam, measured_ratio are not defined")
    _rejected(lab06.check_beam_energy({**good, "beam": 5.0}), "beam should be a Measurement", "got float")
    unmeasured = Measurement("decoding", "USA", method="unavailable: tracker failed to start")
    _rejected(lab06.check_beam_energy({**good, "greedy": unmeasured}), "the energy of 'greedy' was not measured")


def _not_implemented_function(*args):
    raise NotImplementedError("Exercise: write your code here")


def test_lab07_pass_at_k_and_cheapest_method_checks_accept_the_library_and_reject_mistakes():
    import math

    from greenlab.classroom.exercises import lab07
    from greenlab.foundations import metrics

    assert lab07.check_pass_at_k(_own(metrics.pass_at_k)).passed
    assert "course's own reference" in lab07.check_pass_at_k(metrics.pass_at_k).message  # submitted as is
    assert lab07.check_pass_at_k(lambda n, c, k: 1 - math.comb(n - c, k) / math.comb(n, k)).passed
    expected, got = _expected_got(lab07.check_pass_at_k(lambda n, c, k: c / n))  # the share that pass is pass@1
    assert got < expected
    expected, got = _expected_got(lab07.check_pass_at_k(lambda n, c, k: 1 - (1 - c / n) ** k))  # draws put back
    assert got < expected
    assert "not implemented" in lab07.check_pass_at_k(_not_implemented_function).message

    reference = lab07.reference_cheapest_method
    assert lab07.check_cheapest_method(_own(reference)).passed
    above = lab07.check_cheapest_method(lambda t, b, q, c: t[t[q] > b][c].idxmin() if (t[q] > b).any() else None)
    _rejected(above, "expected 'method A', got 'method B'")  # a method exactly on the bar meets it
    _rejected(lab07.check_cheapest_method(lambda t, b, q, c: t[c].idxmin()), "expected 'method A', got 'method C'")
    best = lab07.check_cheapest_method(lambda t, b, q, c: t[t[q] >= b][q].idxmax() if (t[q] >= b).any() else None)
    _rejected(best, "expected 'method A', got 'method B'")  # the best method, not the cheapest good one
    first_of_a_tie = lab07.check_cheapest_method(
        lambda t, b, q, c: t[t[q] >= b][c].idxmin() if (t[q] >= b).any() else None)  # the first of equal costs
    _rejected(first_of_a_tie, "expected 'method B', got 'method A'")  # on equal cost, the higher quality
    assert "not implemented" in lab07.check_cheapest_method(_not_implemented_function).message


def test_lab07_retrieve_then_generate_check(tiny):
    from greenlab.applications import qa
    from greenlab.applications.retrieval import BM25Index
    from greenlab.classroom.exercises import lab07
    from greenlab.training import zoo

    tokenizer = zoo.load(tiny, progress=False).tokenizer
    # random weights: unlike the barely trained tiny GPT, they answer each prompt differently
    model = random_gpt(tokenizer.vocab_size, 0, block_size=64, n_embd=32)
    index = BM25Index(qa.documentation_passages())

    def solution(index, model, tokenizer, question, new_tokens):
        return qa.RetrieveThenGenerate(index, model, tokenizer, new_tokens)(question)

    def question_first(index, model, tokenizer, question, new_tokens):
        passage = index.search(question)[0].text
        ids = tokenizer.encode(f"{question}\n\n{passage}\n")[-(model.config.block_size - new_tokens):]
        out = model.generate(torch.tensor([ids]), new_tokens, temperature=0)
        return tokenizer.decode(out[0, len(ids):].tolist())

    assert lab07.check_retrieve_then_generate(solution, index, model, tokenizer).passed
    _rejected(lab07.check_retrieve_then_generate(question_first, index, model, tokenizer), "expected '", ", got '")
    _not_implemented_yet(lab07.check_retrieve_then_generate(_not_implemented_function, index, model, tokenizer))


def _lab08_tokenizer():
    from greenlab.foundations.tokenizer import BPETokenizer
    from greenlab.responsible import bias

    templates = bias.load_templates()
    return BPETokenizer.train("\n\n".join(bias.skewed_sentences(templates, 0.5)[::10]), 400)


def test_lab08_probe_checks_accept_the_library_and_reject_mistakes():
    from greenlab.classroom.exercises import lab08
    from greenlab.responsible import bias
    from greenlab.models.text import log_likelihoods

    tokenizer = _lab08_tokenizer()
    assert lab08.check_log_likelihood(lambda m, t, text: log_likelihoods(m, t, [text])[0], tokenizer).passed
    no_context = lab08.check_log_likelihood(lambda m, t, text: log_likelihoods(m, t, [text[4:]], context=text[:4])[0],
                                            tokenizer)
    expected, got = _expected_got(no_context)  # the first token must be scored after a blank line
    assert got != pytest.approx(expected, abs=1e-3)

    def whole_sequence(m, t, text):  # the blank line's own tokens scored too, and the text's first one not at all
        ids = t.encode("\n\n" + text)
        with torch.no_grad():
            log_probs = m(torch.tensor([ids[:-1]])).log_softmax(-1)[0]
        return float(sum(log_probs[i, ids[i + 1]] for i in range(len(ids) - 1)))
    _expected_got(lab08.check_log_likelihood(whole_sequence, tokenizer))
    _not_implemented_yet(lab08.check_log_likelihood(_not_implemented_function, tokenizer))

    def library_gap(m, t, pairs):
        return sum(bias.pair_gaps(m, t, pairs)) / len(pairs)
    assert lab08.check_mean_gap(library_gap, tokenizer).passed
    expected, got = _expected_got(lab08.check_mean_gap(lambda m, t, pairs: -library_gap(m, t, pairs), tokenizer))
    assert got == pytest.approx(-expected, rel=1e-4)  # anti-stereotypical minus stereotypical
    expected, got = _expected_got(lab08.check_mean_gap(lambda m, t, pairs: sum(bias.pair_gaps(m, t, pairs)), tokenizer))
    assert got == pytest.approx(8 * expected, rel=1e-3)  # the sum of the 8 pairs' gaps, not their mean
    _rejected(lab08.check_mean_gap(lambda m, t, pairs: 0.0, tokenizer), "expected", ", got 0 ")
    _not_implemented_yet(lab08.check_mean_gap(_not_implemented_function, tokenizer))


def test_lab08_extraction_check_needs_both_outcomes(monkeypatch):
    from greenlab.classroom.exercises import lab08
    from greenlab.measurement.energy import Measurement
    from greenlab.responsible import memorisation
    from greenlab.training.probe_models import ProbeRun

    tokenizer = _lab08_tokenizer()
    run = ProbeRun(random_gpt(tokenizer.vocab_size, 0), Measurement(label="test", country="USA"), trained_now=False)
    canaries = memorisation.make_canaries()
    monkeypatch.setattr(lab08.memorisation, "extracted", lambda model, tokenizer, canary: canary.repeats >= 16)
    assert lab08.check_extracts(lambda m, t, c: c.repeats >= 16, run, tokenizer, canaries).passed
    _rejected(lab08.check_extracts(lambda m, t, c: False, run, tokenizer, canaries), "the answer is True, got False")
    _rejected(lab08.check_extracts(lambda m, t, c: True, run, tokenizer, canaries), "the answer is False, got True")
    _rejected(lab08.check_extracts(lambda m, t, c: c.repeats > 16, run, tokenizer, canaries),
              "(planted 16 times) the answer is True, got False")  # off by one at the threshold
    _rejected(lab08.check_extracts(lambda m, t, c: int(c.repeats >= 16), run, tokenizer, canaries),
              "got 0")  # a bool is asked for, not 0 or 1
    _not_implemented_yet(lab08.check_extracts(_not_implemented_function, run, tokenizer, canaries))
    monkeypatch.setattr(lab08.memorisation, "extracted", lambda model, tokenizer, canary: False)
    _rejected(lab08.check_extracts(lambda m, t, c: False, run, tokenizer, canaries), "cannot check")


def test_lab08_mitigation_check_trains_on_the_mitigated_sentences(monkeypatch):
    from greenlab.classroom.exercises import lab08
    from greenlab.measurement.energy import Measurement
    from greenlab.responsible import bias
    from greenlab.training.probe_models import ProbeRun

    tokenizer = _lab08_tokenizer()
    templates = bias.load_templates()
    skewed = bias.skewed_sentences(templates, 0.9)
    run = ProbeRun(random_gpt(tokenizer.vocab_size, 0), Measurement(label="test", country="USA"), trained_now=False)
    trained_on = []
    monkeypatch.setattr(lab08, "train_mixed", lambda sentences, tokenizer, label: trained_on.append(sentences) or run)
    gap = bias.likelihood_gap(run.model, tokenizer, bias.probe_pairs(templates, held_out=False)).mean
    assert lab08.check_mitigation(bias.rebalance, skewed, abs(gap) + 5, tokenizer).passed
    assert trained_on == [bias.rebalance(skewed, templates)]  # the model was trained on what mitigate returned
    _rejected(lab08.check_mitigation(lambda s, t: s, skewed, 9.0, tokenizer),
              "0.90 of the mitigated sentences are stereotypical")  # nothing changed
    _rejected(lab08.check_mitigation(lambda s, t: s[: len(s) // 2], skewed, 9.0, tokenizer),
              "of the mitigated sentences are stereotypical")  # fewer sentences, the same skew
    _rejected(lab08.check_mitigation(bias.rebalance, skewed, 0.0, tokenizer), "not smaller than the skewed model's")
    _rejected(lab08.check_mitigation(lambda s, t: None, skewed, 9.0, tokenizer), "a non-empty list of sentences")
    neutral = lab08.check_mitigation(lambda s, t: [re.sub(r"\b(his|her)\b", "their", x) for x in s], skewed, 9.0,
                                     tokenizer)  # a gender-neutral rewrite: the rule is stated, not silent
    _rejected(neutral, "a gender-neutral rewrite is a mitigation this probe cannot measure")
    _not_implemented_yet(lab08.check_mitigation(_not_implemented_function, skewed, 9.0, tokenizer))


# Every check whose only argument is the learner's function, fed the student version's stub.
LEARNER_FUNCTION_CHECKS = [
    "lab00.check_training_flops", "lab00.check_energy_kwh", "lab00.check_co2eq_kg", "lab00.check_squared_distances",
    "lab01.check_count_pairs", "lab01.check_merge", "lab01.check_encode", "lab01.check_training_flops_for_text",
    "lab02.check_causal_attention", "lab02.check_multi_head_attention", "lab02.check_block_forward",
    "lab02.check_training",
    "lab03.check_sliding_window_mask", "lab03.check_strided_mask", "lab03.check_blocked_attention",
    "lab04.check_kd_loss",
    "lab05.check_greener", "lab05.check_footprint_by_region", "lab05.check_greenest_start",
    "lab06.check_cross_attention", "lab06.check_modified_precision", "lab06.check_brevity_penalty",
    "lab06.check_greedy_decode", "lab06.check_predicted_ratio",
    "lab07.check_pass_at_k", "lab07.check_cheapest_method",
]


@pytest.mark.parametrize("name", LEARNER_FUNCTION_CHECKS)
def test_a_stub_is_not_implemented_yet(name, cache):
    lab, check = name.split(".")
    _not_implemented_yet(getattr(importlib.import_module(f"greenlab.classroom.exercises.{lab}"), check)(
        _not_implemented_function))
