import itertools
import math
from fractions import Fraction

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from greenlab.foundations import metrics
from greenlab.foundations.metrics import (BleuCounts, bleu_signature, brevity_penalty, chrf, corpus_bleu, exact_match,
                              modified_precision, sentence_bleu, tokenize_13a)

# Sentences from a small vocabulary (so n-grams really match) with the characters 13a treats specially: numbers
# with points and commas, dashes after digits, quotes, entities, brackets.
WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "3.5", "1,000", "2024-11-29", "don't", "(x)", "&amp;",
         "&quot;hi&quot;", "end.", "yes,", "no!", "A-B", "ÿ", "naïve", "—", "👍"]
sentences = st.lists(st.sampled_from(WORDS), min_size=0, max_size=14).map(" ".join)
corpora = st.integers(1, 6).flatmap(lambda n: st.tuples(st.lists(sentences, min_size=n, max_size=n),
                                                        st.lists(sentences, min_size=n, max_size=n)))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_13a_tokens_equal_sacrebleus_on_any_text(text):
    assert " ".join(tokenize_13a(text)) == Tokenizer13a()(text.rstrip())


@settings(max_examples=300, deadline=None)
@given(corpora)
def test_corpus_bleu_equals_sacrebleu(pair):
    hypotheses, references = pair
    assert corpus_bleu(hypotheses, references) == pytest.approx(
        sacrebleu.corpus_bleu(hypotheses, [references]).score, abs=0.01)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=4).flatmap(
    lambda hyps: st.tuples(st.just(hyps), st.lists(st.text(max_size=40), min_size=len(hyps), max_size=len(hyps)))))
def test_corpus_bleu_equals_sacrebleu_on_any_text(pair):
    hypotheses, references = pair
    assert corpus_bleu(hypotheses, references) == pytest.approx(
        sacrebleu.corpus_bleu(hypotheses, [references]).score, abs=0.01)


@settings(max_examples=300, deadline=None)
@given(sentences, sentences)
def test_sentence_bleu_equals_sacrebleu(hypothesis, reference):
    assert sentence_bleu(hypothesis, reference) == pytest.approx(
        sacrebleu.sentence_bleu(hypothesis, [reference]).score, abs=0.01)


def test_modified_precision_clips_repeated_words():
    # the BLEU paper's example: "the the the the the the the" against "the cat is on the mat" earns 2 of 7
    assert modified_precision(["the"] * 7, "the cat is on the mat".split(), 1) == (2, 7)
    assert modified_precision("the cat the cat".split(), "the cat is on the mat".split(), 2) == (1, 3)


def test_brevity_penalty_by_hand():
    assert brevity_penalty(10, 8) == 1.0
    assert brevity_penalty(4, 8) == pytest.approx(math.exp(1 - 2))
    assert brevity_penalty(0, 3) == 0.0


def test_a_near_miss_scores_zero_without_smoothing_only():
    hypothesis, reference = "the cat sat on a mat", "the cat sat on the mat"
    counts = BleuCounts.of(hypothesis, reference)
    # unigrams 5/6, bigrams 3/5, trigrams 2/4 (the cat sat, cat sat on), 4-grams 1/3 (the cat sat on)
    assert (counts.matches, counts.totals) == ((5, 3, 2, 1), (6, 5, 4, 3))
    assert sentence_bleu(hypothesis, reference) == pytest.approx(100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25)
    # one word off in the middle: 4/6, 2/5, 1/4 and no 4-gram in common
    near_miss, reference = "a cat sat on the mat", "the cat is on the mat"
    assert sentence_bleu(near_miss, reference, smooth=False) == 0.0  # scored like nonsense
    # smoothed: the 4-gram precision counts as 1/2 match of 3
    assert sentence_bleu(near_miss, reference) == pytest.approx(100 * (4 / 6 * 2 / 5 * 1 / 4 * (1 / 2) / 3) ** 0.25)


def test_perfect_and_empty():
    assert corpus_bleu(["the cat sat on the mat ."], ["the cat sat on the mat ."]) == pytest.approx(100)
    assert corpus_bleu([""], ["the cat"]) == 0.0
    assert exact_match(["a b", " c "], ["a b", "d"]) == 50.0
    assert 0 < chrf(["the cats sat"], ["the cat sat"]) < 100


def test_signature_names_the_tokenizer_and_smoothing():
    signature = bleu_signature()
    assert "tok:13a" in signature and "smooth:exp" in signature


@pytest.mark.parametrize("hypotheses, references, error, message", [
    ([], [], ValueError, "the list is empty"),
    (["a"], ["a", "b"], ValueError, "1 hypotheses but 2 references"),
    ("a cat", ["a cat"], TypeError, "not a single string"),
    (["a", 3], ["a", "b"], TypeError, "must be a str, got 3"),
])
def test_bad_input_is_named(hypotheses, references, error, message):
    with pytest.raises(error, match=message):
        corpus_bleu(hypotheses, references)


@pytest.mark.parametrize("n, c", [(1, 0), (1, 1), (5, 0), (5, 2), (6, 3), (7, 7), (8, 1)])
def test_pass_at_k_is_the_share_of_draws_that_hold_a_passing_program(n, c):
    programs = [True] * c + [False] * (n - c)
    for k in range(1, n + 1):
        draws = list(itertools.combinations(programs, k))
        assert metrics.pass_at_k(n, c, k) == pytest.approx(sum(any(d) for d in draws) / len(draws), abs=1e-12)


def test_pass_at_k_equals_the_binomial_formula_where_the_binomials_overflow_a_float():
    for n, c, k in [(200, 3, 10), (500, 1, 1), (2000, 30, 1000), (2000, 1990, 5), (1000, 0, 7)]:
        exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
        assert metrics.pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-9, abs=1e-12)
    assert math.comb(2000, 1000) > 1e308  # float(C(2000, 1000)) would overflow
    assert metrics.pass_at_k(10, 3, 1) == pytest.approx(0.3)  # pass@1 is the share of passing programs


@pytest.mark.parametrize("args, error, message", [
    ((5, 2, 6), ValueError, "k must be a whole number from 1 to 5 .a draw of k programs.*got 6"),
    ((5, 2, 0), ValueError, "k must be a whole number from 1 to 5"),
    ((5, 6, 1), ValueError, "c must be a whole number from 0 to 5 .programs that pass, of the n generated., got 6"),
    ((0, 0, 1), ValueError, "n must be a whole number >= 1 .programs generated., got 0"),
    ((5, 2.0, 1), ValueError, "c must be a whole number .*got 2.0"),
    ((5, True, 1), ValueError, "c must be a whole number .*got True"),
])
def test_bad_pass_at_k_arguments_are_named(args, error, message):
    with pytest.raises(error, match=message):
        metrics.pass_at_k(*args)


@pytest.mark.parametrize("reply, found", [
    ('"pass" is a null operation — when it is executed', True),
    ('"pass" is a\n   NULL   operation', True),          # case and whitespace runs are ignored
    ("pass is an operation that is null", False),         # the same words in another order
    ("is a null", False),                                  # part of the phrase
])
def test_contains_answer_asks_for_the_phrase_word_for_word(reply, found):
    assert metrics.contains_answer(reply, "is a null operation") is found


@pytest.mark.parametrize("reply, recall", [
    ("It is a null operation.", 1.0),
    ("pass is an operation that is null", 0.75),          # is, null, operation: 3 of 4 distinct words
    ("NULL", 0.25),
    ("", 0.0),
])
def test_answer_word_recall_is_the_share_of_the_answers_distinct_words(reply, recall):
    assert metrics.answer_word_recall(reply, "is a null operation is") == recall


@pytest.mark.parametrize("answer", ["", "  \n", "—"])
def test_an_answer_without_words_is_a_clear_error(answer):
    with pytest.raises(ValueError, match="answer must"):
        metrics.answer_word_recall("text", answer)
    if not answer.strip():
        with pytest.raises(ValueError, match="answer must be a non-empty phrase"):
            metrics.contains_answer("text", answer)


@pytest.mark.parametrize("call, name, value", [
    (lambda: brevity_penalty(-1, 5), "hypothesis_length", -1),  # once a "penalty" of 403
    (lambda: brevity_penalty(3, -5), "reference_length", -5),
    (lambda: brevity_penalty("3", 5), "hypothesis_length", "3"),
    (lambda: metrics.ngrams(["a", "b"], 0), "n", 0),  # once Counter({(): 3})
    (lambda: modified_precision(["a"], ["a"], -1), "n", -1),
])
def test_bleu_pieces_need_whole_lengths_and_orders(call, name, value):
    with pytest.raises(ValueError, match=f"{name} must be a whole number >= .*, got {value!r}"):
        call()
