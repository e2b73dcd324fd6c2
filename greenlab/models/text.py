"""A GPT and its tokenizer, text in and text out: the two things every use of a language model does.

    continuations(model, tokenizer, "The with statement", 40, temperature=0.8, top_p=0.95)   # [" is used to ..."]
    log_likelihoods(model, tokenizer, [" her phone.", " his phone."], context="\n\nthe nurse lost")

The applications (an assistant, questions and answers, code completion) write; the probes of responsible AI (bias,
memorisation) score, and read the model's greedy writing.
"""

from __future__ import annotations

import torch

from greenlab.foundations.validation import check_whole
from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.models.gpt import GPT, evaluating, fit_prompt


@torch.no_grad()
def continuations(model: GPT, tokenizer: BPETokenizer, prompt: str, new_tokens: int, *, n: int = 1,
                  temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                  seed: int = 0) -> list[str]:
    """`n` texts of `new_tokens` tokens each that the model writes after `prompt`, sampled in one batch with
    `GPT.generate`'s controls (temperature ≤ 0: greedy). A prompt longer than the model's context keeps its end;
    the same `seed` gives the same texts."""
    if not isinstance(prompt, str):
        raise TypeError(f"the prompt must be text, got {type(prompt).__name__}")
    check_whole("n", n, why="continuations of the prompt")
    check_whole("seed", seed, 0, 2**64 - 1)
    ids = fit_prompt(tokenizer.encode(prompt), model.config.block_size, new_tokens)
    idx = torch.tensor([ids] * n, dtype=torch.long, device=model.wte.weight.device)
    generator = torch.Generator(device=idx.device).manual_seed(seed)
    out = model.generate(idx, new_tokens, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)
    return [tokenizer.decode(row[len(ids):].tolist()) for row in out]


@torch.no_grad()
def log_likelihoods(model: GPT, tokenizer: BPETokenizer, texts: list[str], context: str = "\n\n",
                    batch_size: int = 256) -> list[float]:
    """log p(text | context) in nats for each text: the sum of its tokens' log-probabilities, each given the context
    and the tokens before it, without dropout. Texts are tokenized on their own, as they would be after the context."""
    if not isinstance(texts, (list, tuple)) or not all(isinstance(text, str) for text in texts):
        raise TypeError(f"texts must be a list of strings, got {texts!r:.80}")
    if not isinstance(context, str):
        raise TypeError(f"the context must be text, got {type(context).__name__}")
    check_whole("batch_size", batch_size, why="texts scored at a time")
    context_ids = tokenizer.encode(context)
    if not context_ids:
        raise ValueError("the context must be at least one token: the first token of a text needs something before it")
    sequences = [context_ids + tokenizer.encode(text) for text in texts]
    too_long = [t for t, ids in zip(texts, sequences) if len(ids) > model.config.block_size + 1]
    if too_long:
        raise ValueError(f"{too_long[0]!r} and the context are longer than the model's context "
                         f"({model.config.block_size} tokens)")
    scores = []
    with evaluating(model):
        for start in range(0, len(sequences), batch_size):
            batch = sequences[start:start + batch_size]
            width = max(map(len, batch))
            ids = torch.tensor([s + [0] * (width - len(s)) for s in batch],  # padded on the right: a causal model
                               device=model.wte.weight.device)               # never looks at what comes after
            log_probs = model(ids[:, :-1]).float().log_softmax(-1)
            token_scores = log_probs.gather(-1, ids[:, 1:, None])[..., 0]
            for row, sequence in enumerate(batch):
                scores.append(token_scores[row, len(context_ids) - 1:len(sequence) - 1].sum().item())
    return scores
