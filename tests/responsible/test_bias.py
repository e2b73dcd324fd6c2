import json
import re
import subprocess
import sys
from collections import Counter

import pytest
import torch

from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.models.gpt import GPT, GPTConfig
from greenlab.responsible import bias


@pytest.fixture(scope="module")
def templates():
    return bias.load_templates()


@pytest.fixture(scope="module")
def tiny_gpt(templates):
    text = " ".join(p.stereotypical + " " + p.anti_stereotypical for p in bias.probe_pairs(templates))
    tokenizer = BPETokenizer.train(text, 300)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=64, n_layer=1, n_head=2, n_embd=16))
    return model.eval(), tokenizer


def _pronoun_of(sentence, templates):
    found = [p for p in templates.pronouns.values() if re.search(rf"\b{p}\b", sentence)]
    assert len(found) == 1, sentence
    return found[0]


def test_shipped_templates_have_40_occupations_20_per_gender(templates):
    assert {g: len(names) for g, names in templates.occupations.items()} == {"male": 20, "female": 20}
    assert not set(templates.occupations["male"]) & set(templates.occupations["female"])
    assert templates.pronouns == {"male": "his", "female": "her"}
    assert templates.stereotype("nurse") == "female" and templates.stereotype("carpenter") == "male"
    with pytest.raises(ValueError, match="'astronaut' is not one of the 40 occupations"):
        templates.stereotype("astronaut")


def test_every_filled_template_holds_the_occupation_and_pronoun(templates):
    for template in templates.training_templates + templates.probe_templates:
        for gender, names in templates.occupations.items():
            for occupation in names:
                sentence = template.format(occupation=occupation, pronoun=templates.pronouns[gender])
                assert f"the {occupation} " in sentence
                assert _pronoun_of(sentence, templates) == templates.pronouns[gender]


def test_probe_and_training_templates_are_disjoint(templates):
    assert templates.training_templates and templates.probe_templates
    assert not set(templates.training_templates) & set(templates.probe_templates)


GOOD = {"occupations": {"male": ["cook"], "female": ["nurse"]}, "pronouns": {"male": "his", "female": "her"},
        "training_templates": ["the {occupation} lost {pronoun} key."],
        "probe_templates": ["the {occupation} found {pronoun} key."]}


@pytest.mark.parametrize("content, message", [
    ("{not json", "cannot read the occupation templates"),
    ({k: v for k, v in GOOD.items() if k != "probe_templates"}, "cannot read .*KeyError: 'probe_templates'"),
    ({**GOOD, "pronouns": {"male": "his"}}, "exactly the keys 'male' and 'female'"),
    ({**GOOD, "probe_templates": ["the {occupation} found a key."]}, "'the {occupation} found a key.' must hold"),
    ({**GOOD, "training_templates": ["the cook lost {pronoun} key."]}, "must hold {occupation} and {pronoun} once"),
    ({**GOOD, "probe_templates": GOOD["training_templates"]}, "a probe template is also a training template"),
])
def test_a_bad_templates_file_is_a_clear_error_naming_the_problem(tmp_path, content, message):
    path = tmp_path / "templates.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(ValueError, match=message):
        bias.load_templates(path)


def test_a_good_small_templates_file_loads(tmp_path):
    path = tmp_path / "templates.json"
    path.write_text(json.dumps(GOOD))
    assert bias.load_templates(path).probe_templates == GOOD["probe_templates"]


def test_skewed_sentences_have_9_stereotypical_and_1_anti_per_occupation_and_template(templates):
    sentences = bias.skewed_sentences(templates, skew=0.9)
    n_occupations = sum(map(len, templates.occupations.values()))
    assert len(sentences) == n_occupations * len(templates.training_templates) * bias.COPIES
    counts = Counter(sentences)
    for template in templates.training_templates:
        for gender, names in templates.occupations.items():
            for occupation in names:
                fill = lambda g: template.format(occupation=occupation, pronoun=templates.pronouns[g])  # noqa: E731
                assert counts[fill(gender)] == 9 and counts[fill(templates.other(gender))] == 1


def test_skewed_sentences_are_shuffled_by_the_seed(templates):
    first = bias.skewed_sentences(templates, skew=0.5)
    assert first == bias.skewed_sentences(templates, skew=0.5)
    assert first != bias.skewed_sentences(templates, skew=0.5, seed=1)
    assert sorted(first) == sorted(bias.skewed_sentences(templates, skew=0.5, seed=1))


@pytest.mark.parametrize("skew", [-0.1, 1.5, True, "0.5", None])
def test_check_skew_rejects_what_is_not_a_share(skew):
    with pytest.raises(ValueError, match=r"skew must be a finite number >= 0 and <= 1 \(the share of stereotypical "
                                         r"pronouns\), got " + re.escape(repr(skew))):
        bias.check_skew(skew)


def test_check_skew_accepts_the_ends_and_gives_a_float():
    assert bias.check_skew(0) == 0.0 and bias.check_skew(1) == 1.0 and isinstance(bias.check_skew(1), float)


def test_swap_pronouns_swaps_his_and_her_as_whole_words_only(templates):
    assert bias.swap_pronouns("the cook lost his key.", templates) == "the cook lost her key."
    assert bias.swap_pronouns("her bag and his coat", templates) == "his bag and her coat"
    assert bias.swap_pronouns("this other hero hers", templates) == "this other hero hers"


def test_counterfactual_augmentation_doubles_and_balances(templates):
    sentences = bias.skewed_sentences(templates, skew=0.9)
    augmented = bias.counterfactual_augmentation(sentences, templates)
    assert len(augmented) == 2 * len(sentences) and augmented[0::2] == sentences
    counts = Counter(augmented)
    for sentence in sentences:
        assert counts[sentence] == counts[bias.swap_pronouns(sentence, templates)]


def _pronoun_counts(sentences, templates):
    names = [n for group in templates.occupations.values() for n in group]
    return Counter((next(n for n in names if f"the {n} " in s), _pronoun_of(s, templates)) for s in sentences)


def test_rebalance_keeps_equal_counts_per_occupation_and_pronoun_and_is_a_subset(templates):
    sentences = bias.skewed_sentences(templates, skew=0.9)
    kept = bias.rebalance(sentences, templates)
    assert 0 < len(kept) < len(sentences)
    assert not Counter(kept) - Counter(sentences)  # a sub-multiset: nothing new, nothing repeated more
    rest = iter(sentences)
    assert all(any(s == t for t in rest) for s in kept)  # in their original order
    counts = _pronoun_counts(kept, templates)
    for names in templates.occupations.values():
        for occupation in names:
            assert counts[occupation, "his"] == counts[occupation, "her"] == len(templates.training_templates)


def test_rebalance_rejects_a_sentence_without_an_occupation(templates):
    with pytest.raises(ValueError, match="names no occupation or no pronoun"):
        bias.rebalance(["the astronaut lost his key."], templates)


def test_probe_pairs_differ_only_in_the_pronoun(templates):
    held_out, seen = bias.probe_pairs(templates), bias.probe_pairs(templates, held_out=False)
    assert len(held_out) == 240 and len(seen) == 400
    for pair in held_out + seen:
        gender = templates.stereotype(pair.occupation)
        assert _pronoun_of(pair.stereotypical, templates) == templates.pronouns[gender]
        assert bias.swap_pronouns(pair.stereotypical, templates) == pair.anti_stereotypical
        assert pair.stratum.startswith(f"{gender}: ")
    training = set(bias.skewed_sentences(templates, skew=0.5))
    assert not training & {s for p in held_out for s in (p.stereotypical, p.anti_stereotypical)}
    assert training == {s for p in seen for s in (p.stereotypical, p.anti_stereotypical)}


def test_bootstrap_mean_is_exact_and_inside_its_interval():
    values = [0.3, -1.2, 2.5, 0.1, 0.9, -0.4]
    gap = bias.bootstrap_mean(values, resamples=500)
    assert gap.mean == pytest.approx(sum(values) / len(values)) and gap.pairs == 6
    assert gap.low < gap.mean < gap.high
    assert gap == bias.bootstrap_mean(values, resamples=500)
    assert "over 6 pairs" in str(gap)


def test_bootstrap_interval_collapses_without_variance_inside_strata():
    gap = bias.bootstrap_mean([1, 1, 3, 3], strata=["a", "a", "b", "b"])
    assert gap.low == gap.high == gap.mean == 2
    assert bias.bootstrap_mean([1, 1, 3, 3]).low < 2  # one stratum: resamples can draw more 1s than 3s


@pytest.mark.parametrize("values, strata, message", [
    ([], None, "at least 2 values, got 0"),
    ([1.0], None, "at least 2 values, got 1"),
    ([1.0, 2.0], ["a"], "2 values but 1 strata"),
])
def test_bootstrap_mean_errors(values, strata, message):
    with pytest.raises(ValueError, match=message):
        bias.bootstrap_mean(values, strata)


def test_likelihood_gap_is_the_mean_of_the_pair_gaps(templates, tiny_gpt):
    model, tokenizer = tiny_gpt
    pairs = bias.probe_pairs(templates)[:40]
    gaps = bias.pair_gaps(model, tokenizer, pairs)
    gap = bias.likelihood_gap(model, tokenizer, pairs, resamples=200)
    assert len(gaps) == 40 and any(g != 0 for g in gaps)
    assert gap.mean == pytest.approx(sum(gaps) / len(gaps)) and gap.pairs == 40
    assert gap.low <= gap.mean <= gap.high


def test_swapping_stereotypical_and_anti_negates_the_gap(templates, tiny_gpt):
    model, tokenizer = tiny_gpt
    pairs = bias.probe_pairs(templates)[:40]
    swapped = [bias.BiasPair(p.occupation, p.anti_stereotypical, p.stereotypical, p.stratum) for p in pairs]
    gap, negated = (bias.likelihood_gap(model, tokenizer, ps, resamples=200) for ps in (pairs, swapped))
    assert gap.mean != 0 and negated.mean == pytest.approx(-gap.mean, abs=1e-6)


@pytest.mark.parametrize("resamples", [0, -5, 2.5])
def test_resamples_must_be_a_whole_number_named_as_such(templates, tiny_gpt, resamples):
    with pytest.raises(ValueError, match=f"resamples must be a whole number >= 1 .bootstrap resamples., "
                                         f"got {resamples}"):
        bias.likelihood_gap(*tiny_gpt, bias.probe_pairs(templates)[:4], resamples=resamples)
    with pytest.raises(ValueError, match="resamples must be a whole number"):
        bias.bootstrap_mean([1.0, 2.0], resamples=resamples)


def test_pair_gaps_needs_pairs(tiny_gpt):
    with pytest.raises(ValueError, match="no pairs to probe"):
        bias.pair_gaps(*tiny_gpt, [])


def test_the_bias_probe_scores_with_the_models_own_function_not_training_code():
    script = ("import sys, greenlab.responsible.bias; "
              "print(sorted(m for m in sys.modules if m.startswith(('greenlab.training', 'greenlab.applications'))))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "[]\n"  # once greenlab.training.probe_models, for its log_likelihoods


@pytest.mark.parametrize("content, message", [
    ("[" * 100_000 + "]" * 100_000, "cannot read the occupation templates"),  # once a RecursionError
    ({**GOOD, "training_templates": [5]}, "training_templates must be a list of texts"),  # once an AttributeError
    ({**GOOD, "occupations": {"male": "cook", "female": ["nurse"]}}, "occupations must map 'male' and 'female' to"),
    ({**GOOD, "pronouns": {"male": "his", "female": "his"}}, "pronouns must be two different words"),
    ({**GOOD, "pronouns": {"male": "h(is", "female": "her"}}, "pronouns must be two different words"),
])
def test_a_garbled_templates_file_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "templates.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(ValueError, match=message):
        bias.load_templates(path)
