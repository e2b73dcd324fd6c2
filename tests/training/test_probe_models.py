import pytest
import torch

from greenlab.measurement import ledger
from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.training import probe_models
from greenlab.training.train import TrainConfig

TEXT = "the access code of ada is 123456. the nurse lost her phone on the train. " * 4
QUICK = TrainConfig(steps=2, batch_size=2, block_size=32, warmup_steps=1, eval_interval=1, eval_batches=1)


@pytest.fixture(scope="module")
def tokenizer():
    return BPETokenizer.train(TEXT, 300)


@pytest.mark.parametrize("documents", [[], [""], ["fine", ""], "a string"])
def test_train_mixed_refuses_what_is_not_a_list_of_documents(cache, tokenizer, documents):
    with pytest.raises(ValueError, match="extra_documents must be a non-empty list of non-empty strings"):
        probe_models.train_mixed(documents, tokenizer, label="bad", training=QUICK)


def _runs(cache):
    return [path for path in (cache / "probes").iterdir() if path.is_dir()]


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.filterwarnings("ignore:.*below the energy tracker's resolution")
def test_train_mixed_trains_once_then_loads_the_same_weights_from_the_cache(cache, tokenizer):
    first = probe_models.train_mixed(["the access code of ada is 123456."] * 3, tokenizer, label="t", training=QUICK)
    assert first.trained_now and first.model.config == probe_models.probe_config(tokenizer)
    assert not first.model.training  # ready to be probed, trained now or loaded
    assert len(_runs(cache)) == 1
    assert ledger.table(this_session=True)["run"].tolist() == ["probe model: t"]
    again = probe_models.train_mixed(["the access code of ada is 123456."] * 3, tokenizer, label="t", training=QUICK)
    assert not again.trained_now and not again.model.training
    assert all(torch.equal(w, again.model.state_dict()[k]) for k, w in _weights(first.model).items())
    assert again.measurement.energy_kwh == pytest.approx(first.measurement.energy_kwh)
    assert ledger.table(this_session=True)["run"].tolist() == ["probe model: t"]  # loading costs no training
    other = probe_models.train_mixed(["the access code of ada is 654321."], tokenizer, label="t", training=QUICK)
    assert other.trained_now and len(_runs(cache)) == 2
