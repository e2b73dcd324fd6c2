import json

import pytest
import torch

from greenlab.applications import code_completion as cc
from greenlab.applications.sandbox import run_candidate
from greenlab.foundations import data
from greenlab.training import zoo


@pytest.fixture
def tiny_model(tiny):
    return zoo.load(tiny, progress=False)


def test_every_problems_solution_passes_its_tests_and_an_empty_body_fails():
    problems = cc.load_problems()
    assert len(problems) >= 20 and len({p.name for p in problems}) == len(problems)
    for problem in problems:
        assert run_candidate(problem.prompt + problem.solution, problem.tests).passed, problem.name
        stub = run_candidate(problem.prompt + "\n    pass\n", problem.tests)
        assert stub.outcome in ("failed", "error"), problem.name


GOOD = {"name": "add", "prompt": 'def add(a, b):\n    """Sum."""', "solution": "\n    return a + b\n",
        "tests": "assert add(1, 2) == 3"}


@pytest.mark.parametrize("entries, message", [
    ("[", "cannot read the problems"),
    ([], "non-empty JSON list"),
    ([{"name": "x"}], "problem 0 .* exactly the fields name, prompt, solution, tests"),
    ([{**GOOD, "tests": ""}], "empty or non-text field"),
    ([{**GOOD, "prompt": "def add(a, b):\n"}], "must end with the docstring's closing quotes"),
    ([GOOD, GOOD], "problem 1 .* repeats the name 'add'"),
])
def test_a_bad_problem_set_is_a_clear_error_naming_the_problem(tmp_path, entries, message):
    path = tmp_path / "problems.json"
    path.write_text(entries if isinstance(entries, str) else json.dumps(entries))
    with pytest.raises(ValueError, match=message):
        cc.load_problems(path)


def test_held_out_sources_are_the_code_corpus_validation_files():
    assert sorted(cc.held_out_sources()) == data.stdlib_file_names()[1]


def test_next_line_examples_are_spread_evenly_and_cut_at_the_line_above():
    sources = {"a.py": "import os\n\ndef f(x):\n    return os.path.join(x, 'y')\n", "b.py": "x = 1\ny = 22222222\n"}
    examples = cc.next_line_examples(sources, count=2, min_chars=8)
    assert [(e.file, e.line_number, e.line) for e in examples] == [
        ("a.py", 3, "def f(x):"), ("a.py", 4, "return os.path.join(x, 'y')")]
    assert examples[0].context == "import os\n"  # up to the end of the line above, its line break excluded
    assert examples[1].context == "import os\n\ndef f(x):"
    assert cc.next_line_examples(sources, count=3)[2] == cc.NextLine("b.py", 2, "x = 1", "y = 22222222")
    with pytest.raises(ValueError, match="3 lines of at least 8 characters, fewer than count = 4"):
        cc.next_line_examples(sources, count=4)
    with pytest.raises(ValueError, match="count must be"):
        cc.next_line_examples(sources, count=0)


def test_held_out_next_lines_follow_their_context_in_the_file():
    sources = cc.held_out_sources()
    examples = cc.next_line_examples(sources, count=150)
    assert len(examples) == 150 == len({(e.file, e.line_number) for e in examples})
    for e in examples:
        rest = sources[e.file][len(e.context):]
        assert sources[e.file].startswith(e.context) and rest.startswith("\n")
        assert rest[1:].lstrip(" \t").startswith(e.line) and len(e.line) >= 8


def test_complete_line_takes_the_line_after_the_first_break_the_model_writes(tiny_model, monkeypatch):
    model, tokenizer = tiny_model.model, tiny_model.tokenizer
    context = "def f(x):\n    return x"
    ids = tokenizer.encode(context)[-(16 - 4):]
    out = model.generate(torch.tensor([ids]), 4, temperature=0)[0, len(ids):]
    written = tokenizer.decode(out.tolist()).split("\n")
    assert cc.complete_line(model, tokenizer, context, new_tokens=4) == (written[1].strip() if len(written) > 1
                                                                           else "")
    monkeypatch.setattr(tokenizer, "decode", lambda ids: " tail\n        return y  \nz")
    assert cc.complete_line(model, tokenizer, context, new_tokens=4) == "return y"
    monkeypatch.setattr(tokenizer, "decode", lambda ids: "no line break")
    assert cc.complete_line(model, tokenizer, context, new_tokens=4) == ""


@pytest.mark.parametrize("new_tokens, context, message", [
    (16, "x = 1", "new_tokens must be a whole number from 1 to 15"), (0, "x = 1", "new_tokens must be"),
    (4, "", "the prompt is empty: there is nothing to continue")])
def test_bad_completion_arguments_are_clear_errors(tiny_model, new_tokens, context, message):
    with pytest.raises(ValueError, match=message):
        cc.complete_line(tiny_model.model, tiny_model.tokenizer, context, new_tokens=new_tokens)


@pytest.mark.parametrize("completion, body", [
    ("\n    return a + b\n\ndef other():\n    pass\n", "\n    return a + b\n\n"),
    ("\n    x = 1\n    return x\nprint(x)", "\n    x = 1\n    return x\n"),
    ("\n    return a\n    ", "\n    return a\n    "),  # the function never ends within the tokens: all of it
])
def test_function_body_stops_before_the_first_line_at_module_level(completion, body):
    assert cc.function_body(completion) == body


def test_sample_bodies_are_reproducible_and_cut_at_the_function_end(tiny_model):
    problem = cc.load_problems()[0]
    bodies = cc.sample_bodies(tiny_model.model, tiny_model.tokenizer, problem, n=5, new_tokens=6)
    assert len(bodies) == 5 and bodies == cc.sample_bodies(tiny_model.model, tiny_model.tokenizer, problem, n=5,
                                                           new_tokens=6)
    assert all(cc.function_body(body) == body for body in bodies)
    with pytest.raises(ValueError, match="n must be"):
        cc.sample_bodies(tiny_model.model, tiny_model.tokenizer, problem, n=0)


@pytest.mark.parametrize("seed", [None, 2.5, -1])
def test_sample_bodies_takes_a_seed_a_generator_takes(seed):
    from greenlab.foundations.tokenizer import BPETokenizer
    from greenlab.models.gpt import GPT, GPTConfig

    tokenizer = BPETokenizer.train("def f():\n    return 1\n" * 10, 260)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=32, n_layer=1, n_head=1, n_embd=8))
    problem = cc.Problem("f", 'def f():\n    """One."""', "\n    return 1\n", "assert f() == 1")
    with pytest.raises(ValueError, match=f"seed must be a whole number from 0 to {2**64 - 1}, got {seed!r}"):
        cc.sample_bodies(model, tokenizer, problem, n=2, new_tokens=2, seed=seed)
