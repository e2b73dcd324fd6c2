import pytest
from huggingface_hub import DatasetCard, ModelCard

from greenlab.measurement import ledger
from greenlab.foundations.data import load_corpus
from greenlab.measurement.energy import Measurement, format_energy_range
from greenlab.presentation import cards
from greenlab.training import zoo


def test_the_model_card_metadata_parses_and_matches_the_ledger_row(tiny):
    pretrained = zoo.load(tiny)
    card = cards.model_card(pretrained, findings=["a finding"], hardware="2 CPU cores")
    parsed = ModelCard(card.content).data  # read back as the Hub reads a README
    row = ledger.load().iloc[-1]  # the tiny model's training run
    assert row["label"] == pretrained.history["measurement"]["label"]
    emissions = parsed.co2_eq_emissions
    assert emissions == {"emissions": round(row["co2eq_kg"] * 1000, 4), "source": "codecarbon",
                         "training_type": "pre-training", "geographical_location": row["country"],
                         "hardware_used": "2 CPU cores"}
    assert parsed.license == "mit" and parsed.model_name == f"greenlab-{pretrained.recipe.name}"
    assert "- a finding" in card.text and row["method"] in card.text
    assert pretrained.recipe.fingerprint() in card.text
    measurement = Measurement.from_row(pretrained.history["measurement"])
    assert f"({format_energy_range(*measurement.energy_range_j)}, estimated; static" in card.text


def test_a_card_without_findings_says_so(tiny):
    card = cards.model_card(zoo.load(tiny))
    assert "No probes were run for this card." in card.text
    assert "hardware_used" in card.content


def test_a_run_without_an_energy_measurement_has_no_emissions_to_state():
    run = Measurement(label="unmeasured run", country="USA", available=False)
    with pytest.raises(ValueError, match="unmeasured run"):
        cards.co2_eq_emissions(run, "2 CPU cores")


@pytest.mark.parametrize("co2eq_kg, shown", [(float("nan"), "nan"), (float("inf"), "inf"), (-1.0, "-1.0"),
                                             (None, "None")])
def test_emissions_that_are_not_a_mass_are_refused_by_name(co2eq_kg, shown):
    run = Measurement(label="odd run", country="USA", co2eq_kg=co2eq_kg, available=True)
    with pytest.raises(ValueError, match=f"CO2eq of the run 'odd run' \\(co2eq_kg\\).*got {shown}"):
        cards.co2_eq_emissions(run, "2 CPU cores")


def test_a_history_without_its_measurement_is_a_clear_error(tiny):
    pretrained = zoo.load(tiny)
    del pretrained.history["measurement"]
    with pytest.raises(ValueError, match="holds no measurement of its training run.*retrain=True"):
        cards.model_card(pretrained)


def test_the_dataset_card_states_source_size_and_gaps():
    corpus = load_corpus()
    card = cards.dataset_card(corpus, gaps=["English only"])
    parsed = DatasetCard(card.content).data
    assert parsed.pretty_name == "greenlab pydoc" and parsed.size_categories == "n<1K"
    assert corpus.source in card.text and "- English only" in card.text
    assert f"{len(corpus.train_text):,} characters" in card.text


@pytest.mark.parametrize("documents, category", [(0, "n<1K"), (999, "n<1K"), (1_000, "1K<n<10K"),
                                                 (250_000, "100K<n<1M"), (2_000_000, "n>1M")])
def test_size_categories(documents, category):
    assert cards.size_category(documents) == category
