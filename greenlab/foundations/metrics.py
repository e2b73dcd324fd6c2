"""Scoring generated text against references: BLEU written by hand, beside the library the field reports with.

BLEU (Papineni et al., 2002, "BLEU: a Method for Automatic Evaluation of Machine Translation") needs only the text
a model produced and a reference, so it scores any system, greedy or beam search, ours or someone else's: the
geometric mean of the clipped n-gram precisions (n = 1..4), times a penalty for outputs shorter than the reference.
`corpus_bleu` and `sentence_bleu` equal sacrebleu's (Post, 2018, "A Call for Clarity in Reporting BLEU Scores")
with its defaults (`tests/foundations/test_metrics.py` checks it). Report BLEU with its signature (`bleu_signature`):
a score with another tokenizer or smoothing is another number.

An answer to a question is scored against a reference phrase (`contains_answer`, `answer_word_recall`); generated
code by running it (`pass_at_k`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from greenlab.foundations.validation import check_whole

MAX_ORDER = 4  # n-grams of 1 to 4 words, as in the BLEU paper and every WMT report

# mteval-v13a's rules, in order (sacrebleu.tokenizers.tokenizer_re): split off symbols and most punctuation; a
# period or comma after a non-digit, or before a non-digit (so 3.5 and 1,000 stay whole); a dash after a digit.
_13A_RULES = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
]
_WORD = re.compile(r"\w+")  # a word for answer_word_recall: letters, digits, underscores
_ENTITIES = {"&quot;": '"', "&amp;": "&", "&lt;": "<", "&gt;": ">"}


def tokenize_13a(text: str) -> list[str]:
    """Words as WMT's mteval-v13a (sacrebleu's default tokenizer) splits them."""
    line = text.rstrip().replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    for entity, character in _ENTITIES.items():
        line = line.replace(entity, character)
    line = f" {line} "
    for pattern, replacement in _13A_RULES:
        line = pattern.sub(replacement, line)
    return line.split()


def ngrams(tokens: list[str], n: int) -> Counter:
    """How often each run of `n` consecutive tokens occurs (n ≥ 1)."""
    check_whole("n", n, why="the length of an n-gram")
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def modified_precision(hypothesis: list[str], reference: list[str], n: int) -> tuple[int, int]:
    """(clipped matches, hypothesis n-grams): each hypothesis n-gram counts at most as often as the reference has
    it, so "the the the" earns one "the"."""
    wanted = ngrams(reference, n)
    found = ngrams(hypothesis, n)
    return sum(min(count, wanted[gram]) for gram, count in found.items()), sum(found.values())


def brevity_penalty(hypothesis_length: int, reference_length: int) -> float:
    """1 for a hypothesis at least as long as its reference, exp(1 - r/h) for a shorter one, 0 for an empty one
    (lengths in words): without it, a right one-word answer would score 100."""
    check_whole("hypothesis_length", hypothesis_length, minimum=0, why="words")
    check_whole("reference_length", reference_length, minimum=0, why="words")
    if hypothesis_length >= reference_length:
        return 1.0
    return math.exp(1 - reference_length / hypothesis_length) if hypothesis_length else 0.0


@dataclass(frozen=True)
class BleuCounts:
    """What BLEU needs from one or many sentences: matches and totals per n-gram order, and both lengths. Counts
    of several sentences add up (`+`), which is what makes corpus BLEU a corpus score."""

    matches: tuple[int, ...]
    totals: tuple[int, ...]
    hypothesis_length: int
    reference_length: int

    @classmethod
    def of(cls, hypothesis: str, reference: str) -> BleuCounts:
        hyp, ref = tokenize_13a(hypothesis), tokenize_13a(reference)
        pairs = [modified_precision(hyp, ref, n) for n in range(1, MAX_ORDER + 1)]
        return cls(tuple(m for m, _ in pairs), tuple(t for _, t in pairs), len(hyp), len(ref))

    def __add__(self, other: BleuCounts) -> BleuCounts:
        return BleuCounts(tuple(a + b for a, b in zip(self.matches, other.matches)),
                          tuple(a + b for a, b in zip(self.totals, other.totals)),
                          self.hypothesis_length + other.hypothesis_length,
                          self.reference_length + other.reference_length)

    def score(self, smooth: bool = True, effective_order: bool = False) -> float:
        """BLEU in 0-100. `smooth`: an order with no match counts as 1/2^k matches (the k-th such order), else its
        precision is 0 and so is BLEU. `effective_order`: average only the orders the text is long enough to
        have (for a single sentence)."""
        if not any(self.matches):
            return 0.0
        precisions = [0.0] * MAX_ORDER  # in percent, as sacrebleu computes them
        order, halvings = MAX_ORDER, 1
        for n, (matches, total) in enumerate(zip(self.matches, self.totals), start=1):
            if total == 0:  # the text is shorter than n words
                break
            if effective_order:
                order = n
            if matches:
                precisions[n - 1] = 100 * matches / total
            elif smooth:
                halvings *= 2
                precisions[n - 1] = 100 / (halvings * total)
        if min(precisions[:order]) == 0:
            return 0.0
        mean_log = sum(math.log(p) for p in precisions[:order]) / order
        return brevity_penalty(self.hypothesis_length, self.reference_length) * math.exp(mean_log)


def _check_pairs(hypotheses: list[str], references: list[str]) -> None:
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError("hypotheses and references are lists of sentences, not a single string: wrap it in [...]")
    if not hypotheses:
        raise ValueError("no hypotheses to score: the list is empty")
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references: each hypothesis needs "
                         f"exactly one reference")
    for text in (*hypotheses, *references):
        if not isinstance(text, str):
            raise TypeError(f"every hypothesis and reference must be a str, got {text!r}")


def corpus_bleu(hypotheses: list[str], references: list[str]) -> float:
    """Corpus BLEU (0-100) of hypotheses against one reference each: counts summed over sentences first, then
    scored once, with sacrebleu's defaults (13a tokens, exp smoothing). Equals
    `sacrebleu.corpus_bleu(hypotheses, [references]).score`."""
    _check_pairs(hypotheses, references)
    total = BleuCounts.of(hypotheses[0], references[0])
    for hypothesis, reference in zip(hypotheses[1:], references[1:]):
        total = total + BleuCounts.of(hypothesis, reference)
    return total.score()


def sentence_bleu(hypothesis: str, reference: str, smooth: bool = True) -> float:
    """BLEU (0-100) of one sentence, over the orders it is long enough to have. With `smooth` (sacrebleu's
    default, equal to `sacrebleu.sentence_bleu(hypothesis, [reference]).score`) a near-miss keeps credit; without,
    one order with no match makes it 0."""
    _check_pairs([hypothesis], [reference])
    return BleuCounts.of(hypothesis, reference).score(smooth=smooth, effective_order=True)


def bleu_signature() -> str:
    """sacrebleu's signature for the BLEU computed here: the settings a reported score depends on."""
    from sacrebleu.metrics import BLEU

    metric = BLEU()
    metric.num_refs = 1  # one reference per hypothesis, as corpus_bleu takes them
    return str(metric.get_signature())


def exact_match(hypotheses: list[str], references: list[str]) -> float:
    """Percentage of hypotheses identical to their reference (after stripping surrounding whitespace)."""
    _check_pairs(hypotheses, references)
    return 100 * sum(h.strip() == r.strip() for h, r in zip(hypotheses, references)) / len(hypotheses)


def chrf(hypotheses: list[str], references: list[str]) -> float:
    """chrF (0-100; Popović, 2015): an F-score of character n-grams, from sacrebleu. It gives partial credit to a
    word with the wrong ending, where BLEU counts the whole word as missed."""
    import sacrebleu

    _check_pairs(hypotheses, references)
    return sacrebleu.corpus_chrf(hypotheses, [references]).score


def _check_reply(reply: object) -> str:
    """`reply` itself when it is text (an empty reply is a reply); else a ValueError naming it."""
    if not isinstance(reply, str):
        raise ValueError(f"a reply must be text (a str, empty when nothing was said), got {reply!r}")
    return reply


def contains_answer(reply: str, answer: str) -> bool:
    """Whether `reply` holds the answer phrase word for word: case is ignored, and any run of whitespace (a line
    break included) counts as one space. A strict test: a reply that says the same in other words fails it."""
    if not isinstance(answer, str) or not answer.split():
        raise ValueError(f"the answer must be a non-empty phrase, got {answer!r}")
    _check_reply(reply)
    return " ".join(answer.lower().split()) in " ".join(reply.lower().split())


def answer_word_recall(reply: str, answer: str) -> float:
    """The share (0-1) of the answer's distinct words (runs of letters and digits, lower-cased) found anywhere in
    `reply`: partial credit, where `contains_answer` gives none. Words in any order count, so it flatters a reply
    that merely repeats the question's vocabulary; read it beside `contains_answer`."""
    answer_words = set(_WORD.findall(answer.lower())) if isinstance(answer, str) else set()
    if not answer_words:
        raise ValueError(f"the answer must contain a word, got {answer!r}")
    return len(answer_words & set(_WORD.findall(_check_reply(reply).lower()))) / len(answer_words)


def pass_at_k(n: int, c: int, k: int) -> float:
    """pass@k (0-1): the chance that at least one of k programs, drawn without replacement from n generated for a
    problem of which c pass its unit tests, passes: the unbiased estimator 1 - C(n - c, k) / C(n, k) of the Codex
    paper (Chen et al., 2021, "Evaluating Large Language Models Trained on Code"). Average it over problems."""
    check_whole("n", n, why="programs generated")
    check_whole("c", c, 0, n, why="programs that pass, of the n generated")
    check_whole("k", k, 1, n, why="a draw of k programs from the n generated")
    if n - c < k:  # every draw of k holds a passing program
        return 1.0
    none_pass = 1.0  # C(n - c, k) / C(n, k) as a product: the binomials overflow a float for n in the hundreds
    for i in range(n - c + 1, n + 1):
        none_pass *= 1 - k / i
    return 1 - none_pass
