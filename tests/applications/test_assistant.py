import html

import pytest
import torch

from greenlab.applications.assistant import complete
from greenlab.presentation.widgets import completion_line, writing_assistant
from greenlab.training import zoo


@pytest.fixture
def tiny_model(tiny):
    return zoo.load(tiny, progress=False)


def test_a_greedy_completion_is_the_models_most_likely_tokens(tiny_model):
    model, tokenizer = tiny_model.model, tiny_model.tokenizer
    done = complete(model, tokenizer, "x = ", new_tokens=5, temperature=0)  # 4 + 5 tokens: fits the context
    ids = tokenizer.encode("x = ")
    expected = model.generate(torch.tensor([ids]), 5, temperature=0)[0, len(ids):]
    assert done.text == tokenizer.decode(expected.tolist()) and done.tokens == 5
    assert done.seconds > 0 and done.tokens_per_s == pytest.approx(5 / done.seconds)


def test_sampling_is_reproducible_with_its_seed(tiny_model):
    model, tokenizer = tiny_model.model, tiny_model.tokenizer
    draws = [complete(model, tokenizer, "x = ", new_tokens=8, temperature=1.2, seed=s).text for s in (0, 0, 1, 2, 3)]
    assert draws[0] == draws[1] and len(set(draws)) > 1
    assert complete(model, tokenizer, "x = ", 8, temperature=1.0, top_k=1).text == \
        complete(model, tokenizer, "x = ", 8, temperature=0).text  # top-k 1 is greedy


def test_a_long_prompt_keeps_its_end(tiny_model):
    model, tokenizer = tiny_model.model, tiny_model.tokenizer
    long = "The assert statement " * 20
    done = complete(model, tokenizer, long, new_tokens=4, temperature=0)
    kept = tokenizer.encode(long)[-(16 - 4):]
    expected = model.generate(torch.tensor([kept]), 4, temperature=0)[0, len(kept):]
    assert done.text == tokenizer.decode(expected.tolist())


@pytest.mark.parametrize("kwargs, message", [
    ({"prompt": ""}, "prompt must be non-empty text"), ({"prompt": None}, "prompt must be non-empty text"),
    ({"new_tokens": 16}, "new_tokens must be"), ({"temperature": float("nan")}, "temperature must be"),
    ({"top_p": 1.5}, "top_p must be a finite number > 0 and <= 1, got 1.5"),
    ({"top_k": 0}, "top_k must be a whole number >= 1, got 0")])
def test_bad_settings_are_clear_errors(tiny_model, kwargs, message):
    arguments = {"prompt": "x = ", "new_tokens": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        complete(tiny_model.model, tiny_model.tokenizer, **arguments)


def test_the_assistant_completes_at_each_press_and_reads_as_text(tiny_model):
    panel = writing_assistant(tiny_model.model, tiny_model.tokenizer, "x = ", watts=10.0, new_tokens=4)
    box, temperature, top_k, top_p, button, shown = panel.children
    first = repr(panel)
    assert first.startswith("x = [") and "4 tokens in" in first and "the 10.0 W measured" in first
    temperature.value = 0.0
    button.click()
    greedy = complete(tiny_model.model, tiny_model.tokenizer, "x = ", 4, temperature=0).text
    assert repr(panel).startswith(f"x = [{greedy}]") and html.escape(greedy) in shown.value
    box.value = "   "
    button.click()
    assert repr(panel) == "cannot complete: the prompt must be non-empty text, got '   '"
    assert "cannot complete" in shown.value


def test_completion_line_estimates_energy_as_time_times_power(tiny_model):
    done = complete(tiny_model.model, tiny_model.tokenizer, "x = ", 4)
    line = completion_line(done, watts=12.5)
    assert f"≈ {done.seconds * 12.5:.2f} J (estimated" in line and f"{done.tokens_per_s:.0f} tokens/s" in line


@pytest.mark.parametrize("seed", [None, 2.5, "7", -1, 2**64])
def test_the_seed_is_a_whole_number_a_generator_takes(seed):
    from greenlab.foundations.tokenizer import BPETokenizer
    from greenlab.models.gpt import GPT, GPTConfig

    tokenizer = BPETokenizer.train("hello world " * 20, 260)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=16, n_layer=1, n_head=1, n_embd=8))
    with pytest.raises(ValueError, match=f"seed must be a whole number from 0 to {2**64 - 1}, got {seed!r}"):
        complete(model, tokenizer, "hello", new_tokens=2, seed=seed)  # once a RuntimeError from torch.Generator
