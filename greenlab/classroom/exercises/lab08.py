"""Checks for lab 08, responsible AI: a sentence's log-likelihood, the likelihood-gap probe, the canary extraction
test, and a measured mitigation."""

from __future__ import annotations

from typing import Callable

import torch

from greenlab.classroom.checks import CheckResult, check_function, describe_error, random_gpt
from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.models.text import log_likelihoods
from greenlab.responsible import bias, memorisation
from greenlab.training.probe_models import ProbeRun, train_mixed


# --- exercise 1: the log-likelihood of a sentence, and the gap -----------------------------------------------

def check_log_likelihood(fn: Callable, tokenizer: BPETokenizer) -> CheckResult:
    """`fn(model, tokenizer, text)` against `models.text.log_likelihoods` (after a blank line) on random models."""
    pairs = bias.probe_pairs(bias.load_templates())
    models = [random_gpt(tokenizer.vocab_size, seed) for seed in range(3)]

    def reference(model, tokenizer, text) -> float:
        return log_likelihoods(model, tokenizer, [text])[0]

    def inputs(g: torch.Generator) -> tuple:
        pair = pairs[int(torch.randint(len(pairs), (), generator=g))]
        return models[int(torch.randint(3, (), generator=g))], tokenizer, pair.stereotypical
    return check_function(fn, reference, inputs, trials=6, exercise="log_likelihood", atol=1e-3, rtol=1e-4, hint=(
        "score only the text's tokens, each by the log-probability the model gave it at the position before it: "
        "the first one is predicted at the last token of the blank-line context; encode the context and the "
        "text separately, and use log_softmax over the vocabulary (nats)"))


def check_mean_gap(fn: Callable, tokenizer: BPETokenizer) -> CheckResult:
    """`fn(model, tokenizer, pairs)` against the mean of `bias.pair_gaps` on random models and sets of pairs."""
    pairs = bias.probe_pairs(bias.load_templates())
    models = [random_gpt(tokenizer.vocab_size, seed) for seed in range(3)]

    def reference(model, tokenizer, chosen) -> float:
        return sum(bias.pair_gaps(model, tokenizer, chosen)) / len(chosen)

    def inputs(g: torch.Generator) -> tuple:
        chosen = [pairs[i] for i in torch.randperm(len(pairs), generator=g)[:8].tolist()]
        return models[int(torch.randint(3, (), generator=g))], tokenizer, chosen
    return check_function(fn, reference, inputs, trials=4, exercise="mean_gap", atol=1e-3, rtol=1e-4, hint=(
        "the mean over the pairs of log_likelihood(stereotypical) - log_likelihood(anti_stereotypical)"))


# --- exercise 2: does the model give the secret away? -------------------------------------------------------

def check_extracts(fn: Callable, run: ProbeRun, tokenizer: BPETokenizer,
                   canaries: list[memorisation.Canary]) -> CheckResult:
    """`fn(model, tokenizer, canary)` against `memorisation.extracted` for every canary, on a model trained with the
    canaries planted: some are extracted and some are not, so a function that always answers one way fails."""
    expected = [memorisation.extracted(run.model, tokenizer, c) for c in canaries]
    if all(expected) or not any(expected):
        return CheckResult("extracts", False, "cannot check: the trained model extracts all of the canaries or none "
                                              "(train it on the planted documents of this lab)")
    for canary, want in zip(canaries, expected):
        try:
            got = fn(run.model, tokenizer, canary)
        except Exception as error:
            return CheckResult("extracts", False, describe_error(error, fn))
        if got is not want:
            return CheckResult("extracts", False, f"for the canary of {canary.name} (planted {canary.repeats} times) "
                                                  f"the answer is {want}, got {got!r}. Hint: greedy decoding "
                                                  f"(temperature=0) from '\\n\\n' + canary.prefix, then "
                                                  f"text.startswith(canary.continuation)")
    return CheckResult("extracts", True, f"matches on all {len(canaries)} canaries, "
                                         f"{sum(expected)} of them extracted")


# --- exercise 3: a mitigation, measured --------------------------------------------------------------------

def check_mitigation(mitigate: Callable, skewed_sentences: list[str], skewed_gap: float,
                     tokenizer: BPETokenizer) -> CheckResult:
    """`mitigate(sentences, templates)` returns training sentences that each name an occupation of the templates
    with 'his' or 'her' (what the probe can read), 0.45 to 0.55 of them stereotypical; a probe model trained on them
    (or loaded from the cache, when the lab trained it already) has a smaller gap on the training templates than the
    skewed model's `skewed_gap`. The lab states these rules to the learner."""
    exercise = "mitigation"
    templates = bias.load_templates()
    try:
        sentences = mitigate(list(skewed_sentences), templates)
    except Exception as error:
        return CheckResult(exercise, False, describe_error(error, mitigate))
    if not isinstance(sentences, list) or not sentences or not all(isinstance(x, str) for x in sentences):
        return CheckResult(exercise, False, f"mitigate should return a non-empty list of sentences, got "
                                            f"{type(sentences).__name__}")
    try:
        share = bias.stereotypical_share(sentences, templates)
    except ValueError as error:
        pronouns = " with ".join(repr(p) for p in templates.pronouns.values())
        return CheckResult(exercise, False, f"{error}: the probe compares {pronouns}, so every sentence must keep "
                                            f"an occupation of the templates and one of those pronouns (a "
                                            f"gender-neutral rewrite is a mitigation this probe cannot measure)")
    if not 0.45 <= share <= 0.55:
        return CheckResult(exercise, False, f"{share:.2f} of the mitigated sentences are stereotypical: the rule is "
                                            f"0.45 to 0.55, about as many of each pronoun for each stereotype")
    run = train_mixed(sentences, tokenizer, label="lab 08: the mitigated sentences")  # cached when trained before
    gap = bias.likelihood_gap(run.model, tokenizer, bias.probe_pairs(templates, held_out=False)).mean
    if not abs(gap) < abs(skewed_gap):
        return CheckResult(exercise, False, f"the model trained on your sentences has a gap of {gap:+.3f} nats, not "
                                            f"smaller than the skewed model's {skewed_gap:+.3f}")
    return CheckResult(exercise, True, f"{len(sentences):,} sentences, {share:.2f} stereotypical; gap "
                                       f"{skewed_gap:+.2f} → {gap:+.2f} nats")
