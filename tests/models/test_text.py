import pytest
import torch

from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.models.gpt import GPT, GPTConfig
from greenlab.models.text import continuations, log_likelihoods

TEXT = "the access code of ada is 123456. the nurse lost her phone on the train. " * 4


@pytest.fixture(scope="module")
def tokenizer():
    return BPETokenizer.train(TEXT, 300)


@pytest.fixture(scope="module")
def model(tokenizer):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=64, n_layer=1, n_head=2, n_embd=16)).eval()


def _by_hand(model, tokenizer, prompt, new_tokens, n=1, seed=0, **sampling):
    ids = tokenizer.encode(prompt)[-(model.config.block_size - new_tokens):]
    generator = torch.Generator().manual_seed(seed)
    out = model.generate(torch.tensor([ids] * n), new_tokens, generator=generator, **sampling)
    return [tokenizer.decode(row[len(ids):].tolist()) for row in out]


# --- continuations -------------------------------------------------------------------------------------------

def test_a_greedy_continuation_is_the_decoded_new_tokens_of_generate(model, tokenizer):
    written = continuations(model, tokenizer, "the nurse", 6, temperature=0)
    assert written == _by_hand(model, tokenizer, "the nurse", 6, temperature=0)
    assert len(written) == 1 and written[0] and not written[0].startswith("the nurse")


@pytest.mark.parametrize("sampling", [{"temperature": 1.5}, {"temperature": 0.8, "top_k": 5},
                                      {"temperature": 1.2, "top_p": 0.9}])
def test_n_samples_are_one_seeded_batch_of_generate(model, tokenizer, sampling):
    written = continuations(model, tokenizer, "the nurse", 8, n=4, seed=3, **sampling)
    assert written == _by_hand(model, tokenizer, "the nurse", 8, n=4, seed=3, **sampling)
    assert written == continuations(model, tokenizer, "the nurse", 8, n=4, seed=3, **sampling)
    assert len(set(written)) > 1
    assert written != continuations(model, tokenizer, "the nurse", 8, n=4, seed=4, **sampling)


def test_a_long_prompt_keeps_its_end_so_prompt_and_continuation_fit_the_context(model, tokenizer):
    long = TEXT * 3
    assert len(tokenizer.encode(long)) > model.config.block_size
    assert continuations(model, tokenizer, long, 5, temperature=0) == _by_hand(model, tokenizer, long, 5, temperature=0)


def test_continuations_leave_the_models_mode_as_it_was(tokenizer):
    torch.manual_seed(0)
    dropping = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=64, n_layer=1, n_head=2, n_embd=16,
                             dropout=0.5))
    written = continuations(dropping, tokenizer, "the nurse", 6, temperature=0)
    assert dropping.training
    assert written == continuations(dropping.eval(), tokenizer, "the nurse", 6, temperature=0)  # no dropout in either


@pytest.mark.parametrize("arguments, error, message", [
    ({"prompt": None}, TypeError, "the prompt must be text, got NoneType"),
    ({"prompt": ["the"]}, TypeError, "the prompt must be text, got list"),
    ({"prompt": ""}, ValueError, "the prompt is empty: there is nothing to continue"),
    ({"new_tokens": 64}, ValueError, "new_tokens must be a whole number from 1 to 63"),
    ({"new_tokens": 0}, ValueError, "new_tokens must be a whole number from 1 to 63"),
    ({"n": 0}, ValueError, r"n must be a whole number >= 1 \(continuations of the prompt\), got 0"),
    ({"n": 2.0}, ValueError, "n must be a whole number >= 1 .*, got 2.0"),
    ({"seed": -1}, ValueError, f"seed must be a whole number from 0 to {2**64 - 1}, got -1"),
    ({"seed": None}, ValueError, "seed must be a whole number"),
    ({"temperature": float("nan")}, ValueError, "temperature must be a finite number"),
    ({"top_k": 0}, ValueError, "top_k must be a whole number >= 1, got 0"),
    ({"top_p": 1.5}, ValueError, "top_p must be a finite number > 0 and <= 1, got 1.5"),
])
def test_bad_arguments_are_clear_errors(model, tokenizer, arguments, error, message):
    with pytest.raises(error, match=message):
        continuations(model, tokenizer, **{"prompt": "the nurse", "new_tokens": 4, **arguments})


# --- log-likelihoods -----------------------------------------------------------------------------------------

def test_log_likelihood_is_the_sum_of_the_text_tokens_log_probabilities(model, tokenizer):
    context, text = tokenizer.encode("\n\nthe access code of"), tokenizer.encode(" ada is 123456.")
    ids = context + text
    with torch.no_grad():
        log_probs = model(torch.tensor([ids[:-1]]))[0].log_softmax(-1)
    by_hand = sum(log_probs[i - 1, ids[i]].item() for i in range(len(context), len(ids)))
    [score] = log_likelihoods(model, tokenizer, [" ada is 123456."], context="\n\nthe access code of")
    assert score == pytest.approx(by_hand, abs=1e-5) and score < 0


def test_log_likelihoods_are_the_same_batched_and_one_by_one(model, tokenizer):
    texts = ["the nurse lost her phone.", " 123456.", "a", "the access code of ada is 123456. the nurse"]
    one_by_one = log_likelihoods(model, tokenizer, texts, batch_size=1)
    batched = log_likelihoods(model, tokenizer, texts, batch_size=256)
    assert len(set(one_by_one)) == 4
    assert batched == pytest.approx(one_by_one, abs=1e-5)


def test_log_likelihoods_score_without_dropout_and_leave_the_models_mode_as_it_was(tokenizer):
    torch.manual_seed(0)
    dropping = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=64, n_layer=1, n_head=2, n_embd=16,
                             dropout=0.5))
    texts = ["the nurse lost her phone.", " 123456."]
    scores = log_likelihoods(dropping, tokenizer, texts)
    assert dropping.training  # once left in eval mode
    assert scores == log_likelihoods(dropping, tokenizer, texts) == log_likelihoods(dropping.eval(), tokenizer, texts)


def test_log_likelihoods_refuse_an_empty_context(model, tokenizer):
    with pytest.raises(ValueError, match="the context must be at least one token"):
        log_likelihoods(model, tokenizer, ["a"], context="")


def test_log_likelihoods_refuse_a_text_longer_than_the_models_context(model, tokenizer):
    longest = "x" * (model.config.block_size + 1 - len(tokenizer.encode("\n\n")))  # one token per unmerged "x"
    assert len(log_likelihoods(model, tokenizer, [longest])) == 1
    with pytest.raises(ValueError, match="longer than the model's context \\(64 tokens\\)"):
        log_likelihoods(model, tokenizer, ["a", longest + "x"])


@pytest.mark.parametrize("batch_size", [-1, 0, 2.5, None])
def test_log_likelihoods_score_a_whole_number_of_texts_at_a_time(model, tokenizer, batch_size):
    # -1 once scored no text at all and returned [], which a bias probe then averaged
    with pytest.raises(ValueError, match=f"batch_size must be a whole number >= 1 .*, got {batch_size!r}"):
        log_likelihoods(model, tokenizer, ["the nurse", "the cook"], batch_size=batch_size)


@pytest.mark.parametrize("texts, context, message", [
    ("the nurse", "\n\n", "texts must be a list of strings, got 'the nurse'"),  # once scored letter by letter
    (["the nurse", 3], "\n\n", "texts must be a list of strings, got \\['the nurse', 3\\]"),
    (None, "\n\n", "texts must be a list of strings, got None"),
    (["the nurse"], None, "the context must be text, got NoneType"),
])
def test_log_likelihoods_refuse_texts_that_are_not_a_list_of_strings(model, tokenizer, texts, context, message):
    with pytest.raises(TypeError, match=message):
        log_likelihoods(model, tokenizer, texts, context=context)
