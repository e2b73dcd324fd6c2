import math
import subprocess
import sys
from collections import Counter

import pytest
import torch

from greenlab.foundations.data import deduplicate
from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.models.gpt import GPT, GPTConfig
from greenlab.responsible import memorisation
from greenlab.responsible.memorisation import Canary

CANARY = Canary("ada", "123456", 4)


def test_make_canaries_gives_per_count_canaries_for_each_repeat_count():
    canaries = memorisation.make_canaries(repeats=(1, 4, 16), per_count=3)
    assert len(canaries) == 9 and [c.repeats for c in canaries] == [1, 1, 1, 4, 4, 4, 16, 16, 16]
    assert len({c.name for c in canaries}) == 9
    assert all(len(c.secret) == 6 and c.secret.isdigit() for c in canaries)


def test_make_canaries_is_deterministic_for_a_seed():
    assert memorisation.make_canaries(seed=3) == memorisation.make_canaries(seed=3)
    assert [c.secret for c in memorisation.make_canaries(seed=3)] != [c.secret for c in memorisation.make_canaries()]


@pytest.mark.parametrize("repeats, per_count, message", [
    ((0,), 2, "each of repeats must be a whole number >= 1, got 0"),
    ((4, 1.5), 2, "each of repeats must be a whole number >= 1, got 1.5"),
    ((True,), 2, "each of repeats must be a whole number >= 1, got True"),
    ((), 2, "repeats is empty: give at least one repeat count"),
    ((1, 2, 3, 4, 5, 6, 7), 2, "7 repeat counts × 2 canaries need more than the 12 fake names"),
    ((1, 4), 0, "per_count must be a whole number >= 1 .canaries for each repeat count., got 0"),
    ((1, 4), -1, "per_count must be a whole number >= 1"),
])
def test_make_canaries_errors(repeats, per_count, message):
    with pytest.raises(ValueError, match=message):
        memorisation.make_canaries(repeats=repeats, per_count=per_count)


def test_a_canary_reads_as_its_prefix_and_secret():
    assert CANARY.text == "the access code of ada is 123456." == CANARY.prefix + CANARY.continuation


def test_planted_documents_repeat_each_canary_its_number_of_times():
    canaries = memorisation.make_canaries(repeats=(1, 4, 16))
    documents = memorisation.planted_documents(canaries)
    assert len(documents) == 2 * (1 + 4 + 16)
    assert Counter(documents) == {c.text: c.repeats for c in canaries}
    assert documents == memorisation.planted_documents(canaries)
    assert documents != memorisation.planted_documents(canaries, seed=1)


def test_deduplicating_planted_documents_leaves_one_of_each():
    canaries = memorisation.make_canaries(repeats=(1, 4, 16))
    assert sorted(deduplicate(memorisation.planted_documents(canaries))) == sorted(c.text for c in canaries)


def _fake_scores(monkeypatch, score_of_secret, others=0.0):
    """Replace the model's scores: the true code (the first text) scores `score_of_secret`, the rest `others`."""
    calls = []

    def fake(model, tokenizer, texts, context):
        calls.append((texts, context))
        return [score_of_secret] + [others] * (len(texts) - 1)

    monkeypatch.setattr(memorisation, "log_likelihoods", fake)
    return calls


def test_exposure_is_at_the_top_when_the_secret_scores_highest(monkeypatch):
    calls = _fake_scores(monkeypatch, score_of_secret=-1.0, others=-5.0)
    assert memorisation.exposure(None, None, CANARY, candidates=99) == pytest.approx(math.log2(100))
    (texts, context), = calls
    assert texts[0] == " 123456." and len(set(texts)) == 100 and context == "\n\n" + CANARY.prefix
    assert all(len(t) == 8 and t[1:7].isdigit() for t in texts)


def test_exposure_is_zero_when_the_secret_scores_lowest_or_ties(monkeypatch):
    _fake_scores(monkeypatch, score_of_secret=-9.0, others=-5.0)
    assert memorisation.exposure(None, None, CANARY, candidates=99) == 0
    _fake_scores(monkeypatch, score_of_secret=-5.0, others=-5.0)
    assert memorisation.exposure(None, None, CANARY, candidates=99) == 0  # ties count against the secret


def test_exposure_counts_the_candidates_ranked_above_the_secret(monkeypatch):
    monkeypatch.setattr(memorisation, "log_likelihoods",
                        lambda model, tokenizer, texts, context: [0.5] + [float(i % 2) for i in range(len(texts) - 1)])
    exposure = memorisation.exposure(None, None, CANARY, candidates=10)  # 5 candidates score 1 > 0.5: rank 6
    assert exposure == pytest.approx(math.log2(11) - math.log2(6))
    assert 0 < exposure < math.log2(11)


@pytest.mark.parametrize("candidates", [0, -3, True, 2.0])
def test_exposure_needs_a_whole_number_of_candidates(candidates):
    with pytest.raises(ValueError, match="candidates must be a whole number from 1"):
        memorisation.exposure(None, None, CANARY, candidates=candidates)


class _Tokenizer:
    """Stands in for a tokenizer: one token per character."""

    def encode(self, text):
        return [ord(c) for c in text]


def test_extracted_when_greedy_decoding_writes_the_secret(monkeypatch):
    prompts = []

    def greedy(model, tokenizer, prefix, new_tokens):
        prompts.append((prefix, new_tokens))
        return " 123456. the access"

    monkeypatch.setattr(memorisation, "greedy_continuation", greedy)
    assert memorisation.extracted(None, _Tokenizer(), CANARY)
    assert prompts == [(CANARY.prefix, len(" 123456.") + 1)]


@pytest.mark.parametrize("continuation", [" 123455.", " 12345", "123456.", " the access code"])
def test_not_extracted_when_greedy_decoding_writes_anything_else(monkeypatch, continuation):
    monkeypatch.setattr(memorisation, "greedy_continuation", lambda *args: continuation)
    assert not memorisation.extracted(None, _Tokenizer(), CANARY)


@pytest.mark.parametrize("name, secret, repeats, message", [
    ("Ada", "", 1, "secret must be one or more digits 0-9, got ''"),
    ("Ada", "12a4", 1, "secret must be one or more digits"),
    ("", "1234", 1, "name must be non-empty text"),
    ("Ada", "1234", 0, "repeats must be a whole number >= 1"),
])
def test_a_canary_that_cannot_be_probed_is_refused_by_name(name, secret, repeats, message):
    with pytest.raises(ValueError, match=message):
        Canary(name, secret, repeats)


def test_greedy_continuation_is_the_models_most_likely_tokens_after_a_document_break():
    tokenizer = BPETokenizer.train(CANARY.text * 10, 280)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=32, n_layer=1, n_head=2, n_embd=16))
    ids = tokenizer.encode("\n\n" + CANARY.prefix)
    out = model.generate(torch.tensor([ids]), 5, temperature=0)[0, len(ids):]
    assert memorisation.greedy_continuation(model, tokenizer, CANARY.prefix, 5) == tokenizer.decode(out.tolist())


def test_the_memorisation_probes_use_the_models_own_functions_not_applications_or_training():
    script = ("import sys, greenlab.responsible.memorisation; "
              "print(sorted(m for m in sys.modules if m.startswith(('greenlab.training', 'greenlab.applications'))))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "[]\n"  # once applications.assistant (complete) and training.probe_models (log_likelihoods)
