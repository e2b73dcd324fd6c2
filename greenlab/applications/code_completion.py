"""Code completion: a GPT trained on Python source, scored by the next line and by running what it writes.

    code = zoo.load("code")                                      # trained on 62 standard-library modules
    examples = next_line_examples(held_out_sources(), count=150)  # from the 6 modules it never saw
    complete_line(code.model, code.tokenizer, examples[0].context)
    problems = load_problems()                                   # small functions written for the course
    samples = sample_bodies(code.model, code.tokenizer, problems[0], n=10)
    [run_candidate(problems[0].prompt + body, problems[0].tests).passed for body in samples]

Two ways to score a code model. *Next-line exact match* asks for the rest of a line of real code, given
everything above it: cheap, but it rewards copying the training data's habits and punishes a correct line
written another way. *pass@k* (Chen et al., 2021, the Codex paper; `metrics.pass_at_k`) runs the completed
function against unit tests, only ever in `greenlab.applications.sandbox`.

A prompt ends before its line break, not after the indentation: the tokenizer gives an indentation's last space to
the word after it, so a prompt cut there would end at a token boundary the model has hardly ever seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from greenlab.foundations.data import read_stdlib_snapshot, read_text_records, stdlib_file_names
from greenlab.foundations.settings import DATA_DIR
from greenlab.foundations.validation import check_whole
from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.models.gpt import GPT
from greenlab.models.text import continuations

PROBLEMS = DATA_DIR / "code_problems.json"
PROBLEM_FIELDS = ("name", "prompt", "solution", "tests")
BODY_START = '"""'  # a prompt ends with its docstring's closing quotes, at the end of a line


@dataclass(frozen=True)
class NextLine:
    """A line of held-out code to complete: the file up to the end of the line above (without its line break), and
    the line's code (without its indentation)."""

    file: str
    line_number: int  # 1-based
    context: str
    line: str


def held_out_sources() -> dict[str, str]:
    """The standard-library modules the code GPT was not trained on (the 'stdlib' corpus's validation files)."""
    sources = read_stdlib_snapshot()
    return {name: sources[name] for name in stdlib_file_names()[1]}


def next_line_examples(sources: dict[str, str], count: int, min_chars: int = 8) -> list[NextLine]:
    """`count` lines of code spread evenly over `sources` (every m-th eligible line, in file order): lines with at
    least `min_chars` characters of code after their indentation, not the first line of a file."""
    check_whole("count", count)
    eligible = []
    for name in sorted(sources):
        text = sources[name]
        offset = 0
        for number, line in enumerate(text.splitlines(keepends=True), start=1):
            code = line.strip()
            if number > 1 and len(code) >= min_chars:
                eligible.append(NextLine(name, number, text[:offset - 1], code))  # offset - 1: before the break
            offset += len(line)
    if len(eligible) < count:
        raise ValueError(f"the sources have {len(eligible)} lines of at least {min_chars} characters, fewer than "
                         f"count = {count}")
    step = len(eligible) / count
    return [eligible[int(i * step)] for i in range(count)]


def complete_line(model: GPT, tokenizer: BPETokenizer, context: str, new_tokens: int = 24) -> str:
    """The model's greedy guess at the code of the line after `context` (which ends at the end of a line): the
    text between the first and the second line break it writes (up to `new_tokens` tokens), without indentation;
    "" when it writes no line break. A context longer than the model's window keeps its end."""
    [written] = continuations(model, tokenizer, context, new_tokens, temperature=0)
    lines = written.split("\n")
    return lines[1].strip() if len(lines) > 1 else ""


@dataclass(frozen=True)
class Problem:
    """A function to complete: its signature and docstring (the prompt, which ends at the docstring's closing
    quotes), a body that passes (from the line break after them), and the tests."""

    name: str
    prompt: str
    solution: str
    tests: str


def load_problems(path: str | Path = PROBLEMS) -> list[Problem]:
    """The course's function-completion problems, each checked: the four fields as non-empty text, a name used once,
    and a prompt that ends with the docstring's closing quotes (`BODY_START`). Whether each solution passes its
    tests is checked by the unit tests, in the sandbox."""
    path = Path(path)
    entries = read_text_records(path, PROBLEM_FIELDS, key="name", what="problems", item="problem")
    for number, entry in enumerate(entries):
        if not entry["prompt"].endswith(BODY_START):
            raise ValueError(f"problem {number} of {path.name} ({entry['name']!r}): the prompt must end with the "
                             f"docstring's closing quotes {BODY_START}, where the body starts")
    return [Problem(**entry) for entry in entries]


def function_body(completion: str) -> str:
    """A sampled completion cut where the function ends: before the first line that is not indented (a new `def`,
    `class` or statement at module level), as the Codex paper's stop sequences do."""
    lines = completion.split("\n")
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() and not line[0].isspace():
            return "\n".join(lines[:i]) + "\n"
    return completion


def sample_bodies(model: GPT, tokenizer: BPETokenizer, problem: Problem, n: int, new_tokens: int = 64,
                  temperature: float = 0.8, top_p: float = 0.95, seed: int = 0) -> list[str]:
    """`n` bodies for `problem`, sampled in one batch (temperature and nucleus sampling, as for pass@k in the
    Codex paper), each cut where the function ends (`function_body`). The same seed gives the same bodies."""
    return [function_body(written) for written in continuations(model, tokenizer, problem.prompt, new_tokens, n=n,
                                                                 temperature=temperature, top_p=top_p, seed=seed)]
