import math

import pytest
import torch

from greenlab.experiments.model_comparison import compare_models
from greenlab.measurement import ledger
from greenlab.models.gpt import GPT, GPTConfig
from greenlab.training.train import text_loss

CONFIG = GPTConfig(vocab_size=64, block_size=16, n_layer=1, n_head=2, n_embd=32)


@pytest.fixture
def models():
    torch.manual_seed(0)
    big, small = GPT(CONFIG).eval(), GPT(GPTConfig(**{**CONFIG.__dict__, "n_embd": 16})).eval()
    return {"big": (big, 100.0), "small": (small, 25.0)}


def test_each_row_scores_the_whole_text_and_measures_generation(cache, models):
    ids = torch.randint(0, 64, (70,), generator=torch.Generator().manual_seed(1))
    table = compare_models(models, ids, n_characters=140, baseline="big", ledger_label=lambda name: f"model {name}")
    for name, (model, training_j) in models.items():
        loss = text_loss(model, ids, block_size=16)
        assert table.loc[name, "perplexity"] == pytest.approx(math.exp(loss))
        assert table.loc[name, "bits/char"] == pytest.approx(loss / math.log(2) * 69 / 140)  # 69 predictions
        assert table.loc[name, "parameters"] == model.num_parameters()
        assert table.loc[name, "training energy (J)"] == training_j
        assert table.loc[name, "tokens/s (batch 1)"] > 0
    assert table.loc["big", "perplexity ÷ big"] == 1.0
    assert table.loc["small", "perplexity ÷ big"] == pytest.approx(table.loc["small", "perplexity"]
                                                                    / table.loc["big", "perplexity"])
    recorded = ledger.models().set_index("model")
    assert set(recorded.index) == {"model big", "model small"}
    assert recorded.loc["model small", "bits_per_char"] == pytest.approx(table.loc["small", "bits/char"])


def test_an_unknown_baseline_is_named(models):
    with pytest.raises(ValueError, match="baseline 'teacher' is not one of the models: \\['big', 'small'\\]"):
        compare_models(models, torch.arange(20), 40, baseline="teacher")
