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
    assert not lab00.check_training_flops(lambda n, d: 2 * n * d).passed
    assert lab00.check_energy_kwh(lambda h, w, pue: h * w * pue / 1000).passed
    assert not lab00.check_energy_kwh(lambda h, w, pue: h * w * pue).passed
    assert lab00.check_co2eq_kg(lambda kwh, g: kwh * g / 1000).passed
    assert not lab00.check_co2eq_kg(lambda kwh, g: kwh * g).passed
    assert lab00.check_squared_distances(lambda X, Y: torch.cdist(X, Y) ** 2).passed
    assert not lab00.check_squared_distances(lambda X, Y: torch.cdist(X, Y)).passed


def test_lab01_and_lab02_checks_accept_the_library_and_reject_mistakes():
    from collections import Counter

    from greenlab.classroom.exercises import lab01, lab02
    from greenlab.foundations.tokenizer.bpe import encode_bytes, merge
    from greenlab.models.gpt import math_attention

    assert lab01.check_count_pairs(lambda ids: Counter(zip(ids, ids[1:]))).passed
    assert lab01.check_merge(_own(merge)).passed
    assert not lab01.check_merge(lambda ids, pair, new: ids).passed
    assert lab01.check_encode(lambda text, merges: encode_bytes(text.encode(), merges)).passed
    assert lab02.check_causal_attention(_own(math_attention)).passed
    unscaled = lab02.check_causal_attention(lambda q, k, v: (q @ k.transpose(-2, -1)).softmax(-1) @ v)
    assert not unscaled.passed and "Hint" in unscaled.message


def test_check_training_compares_with_the_reference(cache):
    from greenlab.classroom.exercises import lab02

    assert lab02.check_training(lambda x, block: block.mlp(block.ln_2(block.attn(block.ln_1(x))))).passed is False
    assert lab02.check_training(lambda x, block: type(block).__mro__[1].forward(block, x)).passed


def test_lab03_checks_accept_the_library_and_reject_mistakes():
    from greenlab.classroom.exercises import lab03
    from greenlab.models.attention import causal, masked_dense_attention, sliding_window_attention, strided

    assert lab03.check_sliding_window_mask(lambda n, w: causal(n, window=w)).passed
    assert not lab03.check_sliding_window_mask(lambda n, w: causal(n, window=w + 1)).passed
    assert lab03.check_strided_mask(_own(strided)).passed
    assert not lab03.check_strided_mask(lambda n, s: causal(n)).passed
    assert lab03.check_blocked_attention(lambda q, k, v, w, b: sliding_window_attention(q, k, v, w, block=b)).passed
    dense = lab03.check_blocked_attention(
        lambda q, k, v, w, b: masked_dense_attention(q, k, v, causal(q.shape[-2], window=w)))
    assert not dense.passed and "faster" in dense.message
    wrong = lab03.check_blocked_attention(lambda q, k, v, w, b: sliding_window_attention(q, k, v, w + 1))
    assert not wrong.passed and "differ" in wrong.message


def test_lab03_prediction_passes_within_a_factor_of_two():
    from greenlab.classroom.exercises import lab03

    def measured(length):
        return 2.0

    assert lab03.check_prediction(2048, lambda n: 3.0, measured).passed
    assert not lab03.check_prediction(2048, lambda n: 10.0, measured).passed
    assert not lab03.check_prediction(2048, lambda n: -1, measured).passed
    assert not lab03.check_prediction(100_000, lambda n: 3.0, measured).passed
    assert "not implemented" in lab03.check_prediction(2048, _not_implemented, measured).message
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
    assert not no_t2.passed and "Hint" in no_t2.message
    teacher = zoo.load(tiny, progress=False).model
    ids = torch.randint(0, 300, (2000,), generator=torch.Generator().manual_seed(0))

    def student_loss(student, x, y, temperature=2.0):
        with torch.no_grad():
            t = teacher(x)
        return distillation_loss(student(x).flatten(0, 1), t.flatten(0, 1), y.flatten(), temperature, 0.5)

    assert lab04.check_student_loss(student_loss, teacher, ids).passed
    detached = lab04.check_student_loss(lambda s, x, y: student_loss(s, x, y).detach(), teacher, ids)
    assert not detached.passed and "no gradient" in detached.message
    assert not lab04.check_student_loss(lambda s, x, y: F.cross_entropy(s(x).flatten(0, 1), y.flatten()),
                                        teacher, ids).passed


def test_lab04_temperature_choice_is_checked_by_rerunning_it(tiny, monkeypatch):
    from greenlab.classroom.exercises import lab04

    monkeypatch.setattr(lab04, "short_distillation", lambda teacher, t, train_ids, val_ids: {1.0: 5.0, 2.0: 4.0,
                                                                                               4.0: 4.5}[t])
    args = (None, None, None)
    assert lab04.check_temperature_choice(lambda: ({1.0: 5.0, 2.0: 4.0, 4.0: 4.5}, 2.0), *args).passed
    assert not lab04.check_temperature_choice(lambda: ({1.0: 5.0, 2.0: 4.0, 4.0: 4.5}, 4.0), *args).passed
    assert not lab04.check_temperature_choice(lambda: ({1.0: 5.0, 2.0: 4.0}, 2.0), *args).passed
    assert not lab04.check_temperature_choice(lambda: ({1.0: 5.0, 2.0: 3.0, 4.0: 4.5}, 2.0), *args).passed
    assert "not implemented" in lab04.check_temperature_choice(_not_implemented_experiment, *args).message


def _not_implemented_experiment():
    raise NotImplementedError


def test_lab05_checks(cache, monkeypatch):
    from greenlab.classroom.exercises import lab05
    from greenlab.foundations import footprint
    from greenlab.models.gpt import GPTConfig
    from greenlab.training.train import TrainConfig

    by_region = lab05.check_footprint_by_region(
        lambda n, d, hw, cs: [footprint.estimate(n, d, hw, c, pue=1.1).co2eq_kg / 1000 for c in cs])
    assert by_region.passed
    assert not lab05.check_footprint_by_region(
        lambda n, d, hw, cs: [footprint.estimate(n, d, hw, c).co2eq_kg for c in cs]).passed
    def greenest(grid, hours):
        return int(footprint.start_hours(grid, hours).idxmin())

    assert lab05.check_greenest_start(greenest).passed
    noon = lab05.check_greenest_start(lambda grid, hours: 12)
    assert not noon.passed and "Hint" in noon.message
    lab05.baseline.cache_clear()
    trained = []
    run = lab05.run
    monkeypatch.setattr(lab05, "run", lambda *args: trained.append(args[2]) or run(*args))
    wrong_vocab = lab05.check_greener(lambda: (GPTConfig(vocab_size=4096), lab05.BASELINE_TRAINING))
    assert not wrong_vocab.passed and "vocab_size=256" in wrong_vocab.message
    solution = lab05.check_greener(lambda: (
        GPTConfig(vocab_size=256, block_size=64, n_layer=2, n_head=4, n_embd=128),
        TrainConfig(steps=240, batch_size=16, block_size=64, learning_rate=2e-3, min_learning_rate=2e-4,
                    warmup_steps=10, eval_interval=240, eval_batches=8)))
    assert solution.passed, solution.message
    assert trained == ["lab05: baseline", "lab05 check: yours"]
    too_short = lab05.check_greener(lambda: (GPTConfig(vocab_size=256, block_size=64, n_layer=1, n_head=2, n_embd=16),
                                             TrainConfig(steps=20, block_size=64, warmup_steps=2, eval_batches=8)))
    assert not too_short.passed and "the loss must not be more than 1 % above" in too_short.message
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
    assert not unscaled.passed and "Hint" in unscaled.message
    assert not lab06.check_cross_attention(lambda *args: attention(*args, masked=False)).passed
    assert "not implemented" in lab06.check_cross_attention(_not_implemented_function).message

    def unclipped(hypothesis, reference, n):
        wanted, found = metrics.ngrams(reference, n), metrics.ngrams(hypothesis, n)
        return sum(count for gram, count in found.items() if gram in wanted), sum(found.values())

    assert lab06.check_modified_precision(_own(metrics.modified_precision)).passed
    assert not lab06.check_modified_precision(unclipped).passed
    negative_total = lab06.check_modified_precision(lambda h, r, n: (metrics.modified_precision(h, r, n)[0],
                                                                     len(h) - n + 1))
    assert not negative_total.passed and "expected 0, got -1" in negative_total.message
    assert "not implemented" in lab06.check_modified_precision(_not_implemented_function).message

    assert lab06.check_brevity_penalty(_own(metrics.brevity_penalty)).passed
    empty = lab06.check_brevity_penalty(lambda h, r: 1.0 if h >= r else math.exp(1 - r / h))
    assert not empty.passed and "ZeroDivisionError" in empty.message
    assert not lab06.check_brevity_penalty(lambda h, r: math.exp(1 - r / h) if h else 0.0).passed  # longer: > 1
    assert not lab06.check_brevity_penalty(lambda h, r: 1.0 if h >= r else (math.exp(1 - h / r) if h else 0.0)).passed
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
    assert not never_stops.passed and "Hint" in never_stops.message
    assert not lab06.check_greedy_decode(lambda model, src, n: _greedy(model, src, n, stop_when="any")).passed
    assert not lab06.check_greedy_decode(lambda model, src, n: _greedy(model, src, n, keep_bos=True)).passed
    assert "not implemented" in lab06.check_greedy_decode(_not_implemented_function).message
    with one_thread():
        for seed in range(3):  # some outputs stop at </s> and others go on
            model, src_ids, max_new_tokens = lab06.greedy_case(torch.Generator().manual_seed(seed))
            lengths = [len(row) for row in model.greedy(src_ids, max_new_tokens)]
            assert len(set(lengths)) > 1 and min(lengths) < max_new_tokens
    assert torch.get_num_threads() == threads


def test_lab06_prediction_and_measurement_checks():
    from greenlab.classroom.exercises import lab06
    from greenlab.foundations.energy import Measurement

    assert lab06.check_predicted_ratio(lambda: 3.0).passed
    assert lab06.check_predicted_ratio(lambda: 4).passed
    assert "not implemented" in lab06.check_predicted_ratio(_not_implemented_experiment).message
    for prediction in (None, -1.0, 0, float("nan"), float("inf"), True, "3"):
        result = lab06.check_predicted_ratio(lambda: prediction)
        assert not result.passed and "positive number" in result.message

    def measured(joules):
        return Measurement("decoding", "USA", energy_kwh=2 * joules / 3.6e6, cpu_kwh=joules / 3.6e6,
                           ram_kwh=joules / 3.6e6, method="estimated", available=True)

    greedy, beam = measured(2.0), measured(5.0)
    good = {"greedy": greedy, "beam": beam, "measured_ratio": beam.dynamic_j / greedy.dynamic_j}
    assert lab06.check_beam_energy(good).passed
    typed_in = lab06.check_beam_energy({**good, "measured_ratio": 2.4})
    assert not typed_in.passed and "not typed in" in typed_in.message
    stub = lab06.check_beam_energy({})  # the student version's measurement cell raised before defining anything
    assert not stub.passed and "not implemented" in stub.message and "measured_ratio are not defined" in stub.message
    assert "beam, measured_ratio are not defined" in lab06.check_beam_energy({"greedy": greedy}).message
    assert not lab06.check_beam_energy({**good, "beam": 5.0}).passed
    unmeasured = Measurement("decoding", "USA", method="unavailable: tracker failed to start")
    assert "was not measured" in lab06.check_beam_energy({**good, "greedy": unmeasured}).message


def _not_implemented_function(*args):
    raise NotImplementedError("Exercise: write your code here")


def test_lab07_pass_at_k_and_cheapest_method_checks_accept_the_library_and_reject_mistakes():
    import math

    from greenlab.classroom.exercises import lab07
    from greenlab.foundations import metrics

    assert lab07.check_pass_at_k(_own(metrics.pass_at_k)).passed
    assert "course's own reference" in lab07.check_pass_at_k(metrics.pass_at_k).message  # submitted as is
    assert lab07.check_pass_at_k(lambda n, c, k: 1 - math.comb(n - c, k) / math.comb(n, k)).passed
    assert not lab07.check_pass_at_k(lambda n, c, k: c / n).passed  # the share that pass is pass@1, not pass@k
    assert not lab07.check_pass_at_k(lambda n, c, k: 1 - (1 - c / n) ** k).passed  # draws put back
    assert "not implemented" in lab07.check_pass_at_k(_not_implemented_function).message

    reference = lab07.reference_cheapest_method
    assert lab07.check_cheapest_method(_own(reference)).passed
    above = lab07.check_cheapest_method(lambda t, b, q, c: t[t[q] > b][c].idxmin() if (t[q] > b).any() else None)
    assert not above.passed and "expected 'method A'" in above.message  # a method exactly on the bar meets it
    assert not lab07.check_cheapest_method(lambda t, b, q, c: t[c].idxmin()).passed  # ignores the bar
    best = lab07.check_cheapest_method(lambda t, b, q, c: t[t[q] >= b][q].idxmax() if (t[q] >= b).any() else None)
    assert not best.passed  # the best method, not the cheapest good one
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
    assert not lab07.check_retrieve_then_generate(question_first, index, model, tokenizer).passed
    assert "not implemented" in lab07.check_retrieve_then_generate(_not_implemented_function, index, model,
                                                                   tokenizer).message


def _lab08_tokenizer():
    from greenlab.foundations.tokenizer import BPETokenizer
    from greenlab.responsible import bias

    templates = bias.load_templates()
    return BPETokenizer.train("\n\n".join(bias.skewed_sentences(templates, 0.5)[::10]), 400)


def test_lab08_probe_checks_accept_the_library_and_reject_mistakes():
    from greenlab.classroom.exercises import lab08
    from greenlab.responsible import bias
    from greenlab.training.probe_models import log_likelihoods

    tokenizer = _lab08_tokenizer()
    assert lab08.check_log_likelihood(lambda m, t, text: log_likelihoods(m, t, [text])[0], tokenizer).passed
    no_context = lab08.check_log_likelihood(lambda m, t, text: log_likelihoods(m, t, [text[4:]], context=text[:4])[0],
                                            tokenizer)
    assert not no_context.passed  # the first token must be scored after a blank line
    assert "not implemented" in lab08.check_log_likelihood(_not_implemented_function, tokenizer).message

    def library_gap(m, t, pairs):
        return sum(bias.pair_gaps(m, t, pairs)) / len(pairs)
    assert lab08.check_mean_gap(library_gap, tokenizer).passed
    assert not lab08.check_mean_gap(lambda m, t, pairs: -library_gap(m, t, pairs), tokenizer).passed  # reversed
    assert not lab08.check_mean_gap(lambda m, t, pairs: 0.0, tokenizer).passed


def test_lab08_extraction_check_needs_both_outcomes(monkeypatch):
    from greenlab.classroom.exercises import lab08
    from greenlab.foundations.energy import Measurement
    from greenlab.responsible import memorisation
    from greenlab.training.probe_models import ProbeRun

    tokenizer = _lab08_tokenizer()
    run = ProbeRun(random_gpt(tokenizer.vocab_size, 0), Measurement(label="test", country="USA"), trained_now=False)
    canaries = memorisation.make_canaries()
    monkeypatch.setattr(lab08.memorisation, "extracted", lambda model, tokenizer, canary: canary.repeats >= 16)
    assert lab08.check_extracts(lambda m, t, c: c.repeats >= 16, run, tokenizer, canaries).passed
    assert not lab08.check_extracts(lambda m, t, c: False, run, tokenizer, canaries).passed
    assert not lab08.check_extracts(lambda m, t, c: True, run, tokenizer, canaries).passed
    assert not lab08.check_extracts(_not_implemented_function, run, tokenizer, canaries).passed
    monkeypatch.setattr(lab08.memorisation, "extracted", lambda model, tokenizer, canary: False)
    assert "cannot check" in lab08.check_extracts(lambda m, t, c: False, run, tokenizer, canaries).message


def test_lab08_mitigation_check_trains_on_the_mitigated_sentences(monkeypatch):
    from greenlab.classroom.exercises import lab08
    from greenlab.foundations.energy import Measurement
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
    assert "stereotypical" in lab08.check_mitigation(lambda s, t: s, skewed, 9.0, tokenizer).message
    assert "not smaller" in lab08.check_mitigation(bias.rebalance, skewed, 0.0, tokenizer).message
    assert "list of sentences" in lab08.check_mitigation(lambda s, t: None, skewed, 9.0, tokenizer).message
    assert "not implemented" in lab08.check_mitigation(_not_implemented_function, skewed, 9.0, tokenizer).message
