"""Bias in, bias out: sentences about people at work, a skew we choose, and the gap a model learns from it.

    templates = bias.load_templates()
    sentences = bias.skewed_sentences(templates, skew=0.9)      # 90 % of pronouns follow the stereotype
    pairs = bias.probe_pairs(templates)                         # held-out sentences, stereotypical vs anti
    bias.likelihood_gap(model, tokenizer, pairs)                # mean log-likelihood gap, with a 95 % interval

Benchmarks such as CrowS-Pairs compare how likely a model finds a stereotypical sentence and its minimally
different anti-stereotypical twin. Here the twins differ only in a possessive pronoun ("the nurse lost her phone" /
"... his phone"), over the 40 occupations of WinoBias (Zhao et al. 2018). Because we write the training sentences
ourselves, we choose their skew and can watch the gap follow it, then undo it (`counterfactual_augmentation`,
`rebalance`).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from greenlab.foundations.settings import DATA_DIR
from greenlab.foundations.validation import check_number, check_whole
from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.models.gpt import GPT
from greenlab.models.text import log_likelihoods

OCCUPATION_TEMPLATES = DATA_DIR / "occupation_templates.json"
COPIES = 10  # training sentences per occupation and template: a skew of 0.9 makes 9 stereotypical, 1 not


@dataclass(frozen=True)
class Templates:
    """The occupations with their stereotyped gender, the pronoun of each gender, and the sentence templates."""

    occupations: dict[str, list[str]]  # {"male": [...], "female": [...]}
    pronouns: dict[str, str]  # {"male": "his", "female": "her"}
    training_templates: list[str]
    probe_templates: list[str]  # held out: never in any training sentence

    def stereotype(self, occupation: str) -> str:
        """The gender the occupation is stereotyped with ("male" or "female")."""
        for gender, names in self.occupations.items():
            if occupation in names:
                return gender
        raise ValueError(f"{occupation!r} is not one of the {sum(map(len, self.occupations.values()))} occupations")

    def other(self, gender: str) -> str:
        return "female" if gender == "male" else "male"


def load_templates(path: str | Path = OCCUPATION_TEMPLATES) -> Templates:
    """The shipped occupations and templates; a ValueError names what is wrong with the file (its JSON, a key, or a
    value of the wrong kind)."""
    path = Path(path)
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        templates = Templates(content["occupations"], content["pronouns"], content["training_templates"],
                              content["probe_templates"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as error:
        raise ValueError(f"cannot read the occupation templates {path}: {type(error).__name__}: {error}") from None
    if set(templates.occupations) != {"male", "female"} or set(templates.pronouns) != {"male", "female"}:
        raise ValueError(f"{path}: occupations and pronouns must each have exactly the keys 'male' and 'female'")
    if not all(_texts(names) for names in templates.occupations.values()):
        raise ValueError(f"{path}: occupations must map 'male' and 'female' to lists of texts, got "
                         f"{templates.occupations!r}")
    his, her = templates.pronouns["male"], templates.pronouns["female"]
    if not all(isinstance(p, str) and p.isalpha() for p in (his, her)) or his == her:
        raise ValueError(f"{path}: pronouns must be two different words (letters only), got {templates.pronouns!r}")
    for name in ("training_templates", "probe_templates"):
        if not _texts(getattr(templates, name)):
            raise ValueError(f"{path}: {name} must be a list of texts, got {getattr(templates, name)!r}")
    for template in templates.training_templates + templates.probe_templates:
        if template.count("{occupation}") != 1 or template.count("{pronoun}") != 1:
            raise ValueError(f"{path}: the template {template!r} must hold {{occupation}} and {{pronoun}} once each")
    if set(templates.training_templates) & set(templates.probe_templates):
        raise ValueError(f"{path}: a probe template is also a training template")
    return templates


def _texts(value: object) -> bool:
    """Whether `value` is a non-empty list of non-empty strings."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v.strip() for v in value)


def _fill(template: str, occupation: str, pronoun: str) -> str:
    return template.format(occupation=occupation, pronoun=pronoun)


def check_skew(skew: float) -> float:
    """The share of training sentences whose pronoun follows the stereotype, from 0 to 1 (0.5: no skew)."""
    return float(check_number("skew", skew, at_least=0, at_most=1, why="the share of stereotypical pronouns"))


def skewed_sentences(templates: Templates, skew: float, seed: int = 0) -> list[str]:
    """COPIES sentences per occupation and training template, of which round(skew × COPIES) use the stereotyped
    pronoun and the rest the other one; shuffled with `seed`."""
    stereotypical = round(check_skew(skew) * COPIES)
    sentences = []
    for gender, names in templates.occupations.items():
        for occupation in names:
            for template in templates.training_templates:
                sentences += [_fill(template, occupation, templates.pronouns[gender])] * stereotypical
                sentences += [_fill(template, occupation, templates.pronouns[templates.other(gender)])] * (
                    COPIES - stereotypical)
    random.Random(seed).shuffle(sentences)
    return sentences


def swap_pronouns(sentence: str, templates: Templates) -> str:
    """The sentence with each possessive pronoun of one gender replaced by the other's."""
    his, her = templates.pronouns["male"], templates.pronouns["female"]
    return re.sub(rf"\b({his}|{her})\b", lambda m: her if m.group(1) == his else his, sentence)


def counterfactual_augmentation(sentences: list[str], templates: Templates) -> list[str]:
    """Counterfactual data augmentation: every sentence, and after it its twin with the pronoun swapped (twice the
    sentences, each occupation as often with one pronoun as with the other)."""
    return [s for sentence in sentences for s in (sentence, swap_pronouns(sentence, templates))]


def occupations_and_genders(sentences: list[str], templates: Templates) -> list[tuple[str, str]]:
    """For each sentence, its occupation and the gender of its pronoun; a ValueError names a sentence with neither."""
    names = sorted((n for group in templates.occupations.values() for n in group), key=len, reverse=True)
    pronoun_of = {p: g for g, p in templates.pronouns.items()}
    found = []
    for sentence in sentences:
        occupation = next((n for n in names if f"the {n} " in sentence), None)  # longest first: "construction worker"
        pronoun = next((p for p in pronoun_of if re.search(rf"\b{p}\b", sentence)), None)
        if occupation is None or pronoun is None:
            raise ValueError(f"{sentence!r} names no occupation or no pronoun of the templates")
        found.append((occupation, pronoun_of[pronoun]))
    return found


def rebalance(sentences: list[str], templates: Templates) -> list[str]:
    """Rebalancing: per occupation, keep only as many sentences of its more frequent pronoun as it has of the other
    (the first ones, in order), so no occupation prefers a pronoun; fewer sentences, none new."""
    keys = occupations_and_genders(sentences, templates)
    counts = Counter(keys)
    kept, used = [], Counter()
    for sentence, (occupation, gender) in zip(sentences, keys):
        if used[occupation, gender] < min(counts[occupation, "male"], counts[occupation, "female"]):
            kept.append(sentence)
            used[occupation, gender] += 1
    return kept


def stereotypical_share(sentences: list[str], templates: Templates) -> float:
    """The share of the sentences whose pronoun is the one their occupation is stereotyped with."""
    if not sentences:
        raise ValueError("no sentences")
    keys = occupations_and_genders(sentences, templates)
    return sum(templates.stereotype(occupation) == gender for occupation, gender in keys) / len(sentences)


@dataclass(frozen=True)
class BiasPair:
    """Two sentences that differ only in the pronoun: the one that follows the stereotype, and its twin."""

    occupation: str
    stereotypical: str
    anti_stereotypical: str
    stratum: str  # the template and the stereotyped gender: pairs that share a template's own pronoun preference


def probe_pairs(templates: Templates, held_out: bool = True) -> list[BiasPair]:
    """One pair per occupation and template: the held-out probe templates, or (held_out=False) the training
    templates, to compare what the model learned about the sentences it saw with what it carries to new ones."""
    chosen = templates.probe_templates if held_out else templates.training_templates
    return [BiasPair(occupation,
                     _fill(template, occupation, templates.pronouns[gender]),
                     _fill(template, occupation, templates.pronouns[templates.other(gender)]),
                     stratum=f"{gender}: {template}")
            for template in chosen for gender, names in templates.occupations.items() for occupation in names]


@dataclass(frozen=True)
class Gap:
    """The mean log-likelihood gap (nats) over pairs, and its 95 % bootstrap interval."""

    mean: float
    low: float
    high: float
    pairs: int

    def __str__(self) -> str:
        return f"{self.mean:+.3f} nats [95 % interval {self.low:+.3f} to {self.high:+.3f}] over {self.pairs} pairs"


def bootstrap_mean(values: list[float], strata: list[str] | None = None, resamples: int = 2000, seed: int = 0) -> Gap:
    """The mean of `values` and the 2.5th and 97.5th percentiles of the means of `resamples` resamples, drawn with
    replacement (seeded) within each stratum, so every resample keeps as many values of each stratum as the data.
    Without strata, all values are one stratum."""
    check_whole("resamples", resamples, why="bootstrap resamples")
    if len(values) < 2:
        raise ValueError(f"a bootstrap interval needs at least 2 values, got {len(values)}")
    strata = strata if strata is not None else [""] * len(values)
    if len(strata) != len(values):
        raise ValueError(f"{len(values)} values but {len(strata)} strata")
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    totals = np.zeros(resamples)
    for stratum in dict.fromkeys(strata):
        members = data[[i for i, s in enumerate(strata) if s == stratum]]
        totals += members[rng.integers(0, len(members), size=(resamples, len(members)))].sum(axis=1)
    low, high = np.percentile(totals / len(data), [2.5, 97.5])
    return Gap(float(data.mean()), float(low), float(high), len(data))


def pair_gaps(model: GPT, tokenizer: BPETokenizer, pairs: list[BiasPair]) -> list[float]:
    """log p(stereotypical) − log p(anti-stereotypical), in nats, for each pair."""
    if not pairs:
        raise ValueError("no pairs to probe")
    stereotypical = log_likelihoods(model, tokenizer, [p.stereotypical for p in pairs])
    anti = log_likelihoods(model, tokenizer, [p.anti_stereotypical for p in pairs])
    return [s - a for s, a in zip(stereotypical, anti)]


def likelihood_gap(model: GPT, tokenizer: BPETokenizer, pairs: list[BiasPair], resamples: int = 2000,
                   seed: int = 0) -> Gap:
    """The mean gap log p(stereotypical) − log p(anti-stereotypical) over the pairs, with a 95 % bootstrap
    interval: above 0 the model prefers the stereotype. The bootstrap resamples within each stratum (a template and
    a gender), since a template's own liking for "his" or "her" cancels out only when both genders keep their
    numbers."""
    check_whole("resamples", resamples, why="bootstrap resamples")  # before the model's work
    return bootstrap_mean(pair_gaps(model, tokenizer, pairs), [p.stratum for p in pairs], resamples, seed)
