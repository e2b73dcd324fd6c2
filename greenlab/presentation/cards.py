"""Model and dataset cards: what a model is for, what it learned from, what it costs, written where users look.

    card = cards.model_card(zoo.load("reference"), findings=["..."])   # a huggingface_hub.ModelCard
    card.data.co2_eq_emissions                                         # the measured training run, in grams
    cards.dataset_card(load_corpus())                                  # a huggingface_hub.DatasetCard

A model card (Mitchell et al. 2019, "Model Cards for Model Reporting") states a model's training data,
intended use, limitations and evaluation, so that nobody has to guess them; a dataset card (Gebru et al. 2021,
"Datasheets for Datasets") does the same for data. The Hub shows and filters by the header field
`co2_eq_emissions`; here it is filled from the training run's own ledger row.
"""

from __future__ import annotations

import os
import platform

import torch
from huggingface_hub import DatasetCard, DatasetCardData, ModelCard, ModelCardData

from greenlab.foundations.data import Corpus
from greenlab.measurement.energy import Measurement, format_energy, format_energy_range
from greenlab.measurement.uncertainty import obtained
from greenlab.foundations.validation import check_number
from greenlab.training.zoo import Pretrained

MODEL_CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

{{ description }}

## Training data
{{ training_data }}

## Intended use
{{ intended_use }}

## Limitations
{{ limitations }}

## Bias, risks and findings
{{ findings }}

## Training cost
{{ training_cost }}
"""

DATASET_CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ pretty_name }}

{{ description }}

## Source and licence
{{ source }}

## Size and splits
{{ size }}

## Known gaps and biases
{{ gaps }}
"""


def hardware_description() -> str:
    """The hardware this process runs on, in words (the zoo trains its models on the machine that uses them)."""
    if torch.cuda.is_available():
        return f"1 × {torch.cuda.get_device_name(0)}"
    return f"{os.cpu_count()} CPU cores ({platform.machine() or 'unknown architecture'})"


def co2_eq_emissions(measurement: Measurement, hardware: str, training_type: str = "pre-training") -> dict:
    """The Hub's `co2_eq_emissions` metadata for a measured training run: grams of CO2eq and how they were found."""
    if not measurement.available:
        raise ValueError(f"the run {measurement.label!r} has no energy measurement: its card cannot state emissions")
    grams = check_number(f"the CO2eq of the run {measurement.label!r} (co2eq_kg)", measurement.co2eq_kg,
                         at_least=0) * 1000
    return {"emissions": round(grams, 4), "source": "codecarbon",
            "training_type": training_type, "geographical_location": measurement.country, "hardware_used": hardware}


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def model_card(pretrained: Pretrained, findings: list[str] | None = None, hardware: str | None = None) -> ModelCard:
    """A model card for a zoo model, filled from its recipe and the ledger row of its training run."""
    recipe, history = pretrained.recipe, pretrained.history
    if not isinstance(history.get("measurement"), dict):
        raise ValueError(f"the history of {recipe.name!r} holds no measurement of its training run (the "
                         f"'measurement' field): train it again, zoo.load({recipe.name!r}, retrain=True)")
    measurement = Measurement.from_row(history["measurement"])
    config, training = recipe.model, recipe.training
    data = ModelCardData(language="en", license="mit", library_name="pytorch", pipeline_tag="text-generation",
                         tags=["greenlab", "gpt", "from-scratch"], model_name=f"greenlab-{recipe.name}",
                         co2_eq_emissions=co2_eq_emissions(measurement, hardware or hardware_description()))
    validation = history["validation"][-1]
    return ModelCard.from_template(
        data, template_str=MODEL_CARD_TEMPLATE, model_name=f"greenlab-{recipe.name}",
        description=f"`greenlab-{recipe.name}`, a model of the GreenLab course: {recipe.description}; "
                    f"{pretrained.model.num_parameters():,} parameters, trained from scratch by the recipe of "
                    f"`greenlab.training.zoo` (fingerprint `{recipe.fingerprint()}`).",
        training_data=_bullets([
            f"the `{recipe.corpus}` corpus of `greenlab.foundations.data` (its training split), tokenized by a "
            f"byte-level BPE of {recipe.vocab_size:,} tokens trained on the same split",
            f"{training.steps} steps of {training.batch_size} windows of {training.block_size} tokens "
            f"({training.steps * training.batch_size * training.block_size:,} tokens seen)",
            f"validation loss after the last step: {validation['val_loss']:.2f} nats per token"]),
        intended_use=_bullets([
            "teaching: how a small language model is trained, measured and made cheaper",
            "experiments on 2 CPU cores: distillation, compression, probes of bias and memorisation"]),
        limitations=_bullets([
            f"a {config.n_layer}-layer model with a context of {config.block_size} tokens, trained on one small "
            f"corpus: it writes fluent-looking text that is often false; never use it as a source of facts",
            "English documentation only; it knows nothing after the corpus's Python version",
            "not evaluated for safety, toxicity or fairness beyond the course's probes"]),
        findings=_bullets(findings) if findings else "No probes were run for this card.",
        training_cost=_bullets([
            f"{measurement.duration_s:.0f} s; {format_energy(measurement.energy_j)} "
            f"({format_energy_range(*measurement.energy_range_j)}, {obtained(measurement.method)}; static "
            f"{format_energy(measurement.static_j)}, dynamic {format_energy(measurement.dynamic_j)}); "
            f"{measurement.co2eq_kg * 1000:.3f} g CO2eq at {measurement.grid_gco2_per_kwh:.0f} gCO2eq/kWh "
            f"({measurement.country})",
            f"method: {measurement.method}",
            f"ledger row: {measurement.label!r}, {measurement.timestamp}"]))


def size_category(documents: int) -> str:
    """The Hub's size category for a dataset of that many examples (documents here)."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if documents < limit:
            return name
    return "n>1M"


def dataset_card(corpus: Corpus, gaps: list[str] | None = None) -> DatasetCard:
    """A dataset card for a corpus of `greenlab.foundations.data`: source, licence, size and splits, and its known
    gaps."""
    documents = len(corpus.train_documents) + len(corpus.validation_documents)
    data = DatasetCardData(language="en", license="other", pretty_name=f"greenlab {corpus.name}",
                           size_categories=size_category(documents),
                           task_categories="text-generation", tags=["greenlab"])
    return DatasetCard.from_template(
        data, template_str=DATASET_CARD_TEMPLATE, pretty_name=f"greenlab {corpus.name}",
        description=f"The `{corpus.name}` corpus of the GreenLab course, shipped with it (no download).",
        source=corpus.source,
        size=_bullets([f"train: {len(corpus.train_documents)} documents, {len(corpus.train_text):,} characters",
                       f"validation: {len(corpus.validation_documents)} documents, "
                       f"{len(corpus.validation_text):,} characters"]),
        gaps=_bullets(gaps) if gaps else "Not yet described.")
