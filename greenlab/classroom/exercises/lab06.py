"""Checks for lab 06, the encoder–decoder: cross-attention over a padded source, BLEU's clipped n-gram precision and
brevity penalty, greedy decoding, and beam search's energy, predicted then measured."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from greenlab.classroom.checks import NOT_IMPLEMENTED, CheckResult, check_function, describe_error
from greenlab.foundations import metrics
from greenlab.measurement.energy import Measurement
from greenlab.foundations.settings import one_thread
from greenlab.foundations.validation import check_number
from greenlab.models.seq2seq import Attention, EncoderDecoder, Seq2SeqConfig


def _draw(generator: torch.Generator, low: int, high: int) -> int:
    """An integer in [low, high)."""
    return int(torch.randint(low, high, (), generator=generator))


def _source_mask(generator: torch.Generator, batch: int, length: int) -> torch.Tensor:
    """(batch, length) bool, True at real tokens: each source has 1..length real tokens, then padding."""
    real = torch.randint(1, length + 1, (batch,), generator=generator)
    return torch.arange(length)[None, :] < real[:, None]


# --- exercise 1: cross-attention ------------------------------------------------------------------------

def reference_cross_attention(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                              source_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The library's cross-attention on given queries, keys and values: `seq2seq.Attention.probabilities` with
    identity projections for the weights, and `forward`'s fused kernel for the output."""
    B, H, T, head_dim = queries.shape
    attention = Attention(Seq2SeqConfig(d_model=H * head_dim, n_head=H))
    with torch.no_grad():
        attention.q_proj.weight.copy_(torch.eye(H * head_dim))
        attention.q_proj.bias.zero_()
        x = queries.transpose(1, 2).reshape(B, T, H * head_dim)  # the heads side by side, as the decoder has them
        allowed = source_mask[:, None, None, :]
        weights = attention.probabilities(x, keys, allowed)
        output = F.scaled_dot_product_attention(queries, keys, values, attn_mask=allowed)
    return output, weights


def check_cross_attention(fn: Callable) -> CheckResult:
    def inputs(g: torch.Generator) -> tuple:
        B, H, T, S, D = _draw(g, 1, 4), _draw(g, 1, 4), _draw(g, 1, 7), _draw(g, 2, 9), _draw(g, 2, 9)
        return (torch.randn(B, H, T, D, generator=g), torch.randn(B, H, S, D, generator=g),
                torch.randn(B, H, S, D, generator=g), _source_mask(g, B, S))
    with one_thread():
        return check_function(fn, reference_cross_attention, inputs, trials=8, exercise="cross_attention", hint=(
            "the weights must be 0 at padding keys: mask the scores with -inf before the softmax; source_mask is "
            "(B, S) and the scores (B, H, T, S), so it needs an axis for the heads and one for the targets; scale "
            "by √head_width; return the output and the weights"))


# --- exercises 2 and 3: BLEU's pieces --------------------------------------------------------------------

WORDS = ["one", "two", "three", "hundred"]  # a small alphabet, so that n-grams repeat


def check_modified_precision(fn: Callable) -> CheckResult:
    def inputs(g: torch.Generator) -> tuple:
        hypothesis = [WORDS[i] for i in torch.randint(0, len(WORDS), (_draw(g, 0, 9),), generator=g).tolist()]
        reference = [WORDS[i] for i in torch.randint(0, len(WORDS), (_draw(g, 1, 9),), generator=g).tolist()]
        return hypothesis, reference, _draw(g, 1, 5)
    return check_function(fn, metrics.modified_precision, inputs, trials=12, exercise="modified_precision", hint=(
        "an n-gram is a tuple of n consecutive tokens, and a list shorter than n has none; an n-gram of the "
        "hypothesis matches at most as often as the reference has it (clipped), and the total counts the "
        "hypothesis's n-grams only"))


def check_brevity_penalty(fn: Callable) -> CheckResult:
    special = iter([(0, 5), (7, 3), (4, 4), (1, 9)])  # empty, longer, as long as, and much shorter than the reference

    def inputs(g: torch.Generator) -> tuple:
        return next(special, None) or (_draw(g, 0, 25), _draw(g, 1, 25))
    return check_function(fn, metrics.brevity_penalty, inputs, trials=10, exercise="brevity_penalty", atol=1e-12,
                          rtol=1e-9, hint=("three cases: at least as long as the reference gives 1; an empty "
                                           "hypothesis gives 0, decided before anything divides by its length; "
                                           "a shorter one is penalised with r/h, not h/r"))


# --- exercise 4: greedy decoding -------------------------------------------------------------------------

def random_translator(generator: torch.Generator) -> EncoderDecoder:
    """A small encoder–decoder with random weights, in float64 (no near-ties between the top two tokens) and in eval
    mode."""
    n_head = _draw(generator, 1, 3)
    config = Seq2SeqConfig(vocab_size=_draw(generator, 6, 12), d_model=8 * n_head, n_head=n_head, n_encoder_layer=1,
                           n_decoder_layer=_draw(generator, 1, 3), d_ff=32, max_source_len=8, max_target_len=12,
                           dropout=0.0)
    model = EncoderDecoder(config).double().eval()
    with torch.no_grad():  # every weight drawn from `generator`, not the global seed; LayerNorms keep 1 and 0
        for name, p in model.named_parameters():
            if "norm" not in name:
                scale = 1.0 if name == "embed.weight" else 0.3
                p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype) * scale)
    return model


def random_sources(generator: torch.Generator, model: EncoderDecoder) -> torch.Tensor:
    """A batch of 2 to 4 right-padded sources of real tokens (no <s> or </s> inside), at least one real token each."""
    B, S = _draw(generator, 2, 5), _draw(generator, 1, model.config.max_source_len + 1)
    tokens = torch.randint(3, model.config.vocab_size, (B, S), generator=generator)
    return tokens.masked_fill(~_source_mask(generator, B, S), model.config.pad_id)


def greedy_case(generator: torch.Generator, tries: int = 50) -> tuple[EncoderDecoder, torch.Tensor, int]:
    """A random model, sources and max_new_tokens where some outputs stop at </s> while others go on: a decoder
    that never stops, stops at the first </s> of any row, or keeps what follows a </s> gets them wrong. Random
    models mostly repeat one token, so candidates are drawn until one does (or `tries` run out)."""
    for _ in range(tries):
        model = random_translator(generator)
        src_ids = random_sources(generator, model)
        max_new_tokens = _draw(generator, 6, model.config.max_target_len + 1)
        lengths = [len(row) for row in model.greedy(src_ids, max_new_tokens)]
        if len(set(lengths)) > 1 and min(lengths) < max_new_tokens:
            break
    return model, src_ids, max_new_tokens


def check_greedy_decode(fn: Callable) -> CheckResult:
    def reference(model: EncoderDecoder, src_ids: torch.Tensor, max_new_tokens: int) -> list[list[int]]:
        return model.greedy(src_ids, max_new_tokens)
    with one_thread():
        return check_function(fn, reference, greedy_case, trials=6, exercise="greedy_decode", hint=(
            "each step takes the argmax at the last position only; stop early only when every row has written "
            "eos_id, not the first one; return lists of ints, each without <s> and cut before its own first eos_id "
            "(what a row writes after it does not count)"))


# --- exercise 5: beam search's energy, predicted then measured --------------------------------------------

def _is_positive_number(value: object) -> bool:
    try:
        check_number("value", value, above=0)
    except ValueError:
        return False
    return True


def check_predicted_ratio(predicted_ratio: Callable[[], float]) -> CheckResult:
    """The prediction, made before measuring, is a positive number; the measurement below is compared with it."""
    exercise = "predicted_ratio"
    try:
        predicted = predicted_ratio()
    except Exception as error:
        return CheckResult(exercise, False, describe_error(error, predicted_ratio))
    if not _is_positive_number(predicted):
        return CheckResult(exercise, False, f"predicted_ratio() should return a positive number (how many times "
                                            f"greedy decoding's dynamic energy beam search needs), got {predicted!r}")
    return CheckResult(exercise, True, "a positive number: now measure, and compare")


def check_beam_energy(namespace: dict) -> CheckResult:
    """`namespace` (the notebook's `globals()`) holds the two measurements, `greedy` and `beam`, and `measured_ratio`
    computed from them. The check measures nothing itself: the energy differs from one CPU to the next, so what is
    compared, in your sentence, is your prediction with your measurement."""
    exercise = "beam_energy"
    missing = [name for name in ("greedy", "beam", "measured_ratio") if name not in namespace]
    if missing:
        return CheckResult(exercise, False, f"{NOT_IMPLEMENTED} (or run the measurement cell): "
                                            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not defined")
    greedy, beam, ratio = namespace["greedy"], namespace["beam"], namespace["measured_ratio"]
    for name, m in (("greedy", greedy), ("beam", beam)):
        if not isinstance(m, Measurement):
            return CheckResult(exercise, False, f"{name} should be a Measurement (`median_run(...)`, or `with "
                                                f"measure(...) as {name}:`), got {type(m).__name__}")
        if not m.available or not m.dynamic_j > 0:
            return CheckResult(exercise, False, f"the energy of {name!r} was not measured ({m.method}): run the "
                                                f"measurement cell again")
    if not _is_positive_number(ratio) or not math.isclose(ratio, beam.dynamic_j / greedy.dynamic_j, rel_tol=1e-9):
        return CheckResult(exercise, False, f"measured_ratio should be beam.dynamic_j / greedy.dynamic_j, computed "
                                            f"from your two measurements (not typed in), got {ratio!r}")
    return CheckResult(exercise, True, "measured_ratio is beam search's dynamic energy over greedy decoding's, from "
                                       "your two measurements")
