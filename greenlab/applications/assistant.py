"""A writing assistant: the course GPT continues a prompt, with the sampling controls every chat product has.

    done = complete(model, tokenizer, "The with statement", temperature=0.8, top_p=0.95)
    done.text, done.tokens, done.tokens_per_s

Temperature divides the logits before the softmax: below 1 the likely tokens get likelier, above 1 the
distribution flattens, and 0 means greedy (always the most likely token). top-k keeps the k likeliest tokens,
top-p (nucleus sampling, Holtzman et al. 2020) the fewest whose probabilities add up to p. Each completion is
drawn with its own seed, so the same settings and seed give the same text on the same machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.models.gpt import GPT
from greenlab.models.text import continuations


@dataclass(frozen=True)
class Completion:
    """A prompt, the text the model added, how many tokens that was and how long it took."""

    prompt: str
    text: str
    tokens: int
    seconds: float

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds


def complete(model: GPT, tokenizer: BPETokenizer, prompt: str, new_tokens: int = 40, temperature: float = 0.8,
             top_k: int | None = None, top_p: float | None = None, seed: int = 0) -> Completion:
    """`new_tokens` tokens sampled after `prompt` (see the module's docstring for the controls), timed from the
    prompt's text to the continuation's. A prompt longer than the model's context keeps its end."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"the prompt must be non-empty text, got {prompt!r}")
    start = time.perf_counter()
    [text] = continuations(model, tokenizer, prompt, new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                           seed=seed)
    return Completion(prompt, text, new_tokens, time.perf_counter() - start)
