import json

import pytest
import torch

from greenlab.foundations import ledger
from greenlab.models.gpt import GPT, GPTConfig
from greenlab.training import run_cache
from greenlab.training.train import TrainConfig, train

CONFIG = GPTConfig(vocab_size=32, block_size=8, n_layer=1, n_head=2, n_embd=16)
QUICK = TrainConfig(steps=3, batch_size=2, block_size=8, warmup_steps=1, eval_interval=2, eval_batches=1)
IDS = torch.arange(200) % 32


def _cached(key, calls):
    torch.manual_seed(0)
    model = GPT(CONFIG)

    def run():
        calls.append(key)
        return train(model, IDS, IDS, QUICK, label="cached run", progress=False)

    return model, run_cache.cached("runs", key, model, run)


def _folders(cache):
    return [path for path in (cache / "runs").iterdir() if path.is_dir()]


@pytest.mark.filterwarnings("ignore:.*below the energy tracker's resolution")
def test_a_run_trains_once_then_loads_its_weights_losses_and_measurement(cache):
    calls = []
    first_model, first = _cached({"model": CONFIG, "training": QUICK}, calls)
    again_model, again = _cached({"model": CONFIG, "training": QUICK}, calls)
    assert len(calls) == 1 and not first.from_cache and again.from_cache
    assert all(torch.equal(w, again_model.state_dict()[k]) for k, w in first_model.state_dict().items())
    assert (again.config, again.train_losses, again.validation) == (first.config, first.train_losses, first.validation)
    assert again.measurement.energy_kwh == first.measurement.energy_kwh and again.precision == first.precision
    assert ledger.table(this_session=True)["run"].tolist() == ["cached run"]  # loading trained nothing
    _cached({"model": CONFIG, "training": QUICK, "seed": 1}, calls)  # another key: another run
    assert len(calls) == 2 and len(_folders(cache)) == 2


@pytest.mark.filterwarnings("ignore:.*below the energy tracker's resolution")
@pytest.mark.parametrize("damage", ["weights", "checksum", "json"])
def test_a_damaged_run_is_named_and_trained_again(cache, damage):
    calls = []
    _cached({"run": 1}, calls)
    [folder] = _folders(cache)
    if damage == "weights":
        (folder / "model.safetensors").write_bytes(b"not weights")
    elif damage == "checksum":
        stored = json.loads((folder / "run.json").read_text())
        (folder / "run.json").write_text(json.dumps({**stored, "sha256": "0" * 63}))
    else:
        (folder / "run.json").write_text("{ not json")
    with pytest.warns(UserWarning, match=f"the run kept in {folder} is damaged or unreadable"):
        _, again = _cached({"run": 1}, calls)
    assert len(calls) == 2 and not again.from_cache
    assert _cached({"run": 1}, calls)[1].from_cache  # kept whole again


@pytest.mark.filterwarnings("ignore:.*below the energy tracker's resolution")
def test_a_run_that_cannot_be_kept_is_still_returned(cache, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    saves = run_cache.save_checkpoint
    monkeypatch.setattr(run_cache, "save_checkpoint", disk_full)
    calls = []
    with pytest.warns(UserWarning, match="could not be kept in .*No space left on device.*will train again"):
        model, result = _cached({"run": 1}, calls)
    assert len(calls) == 1 and not result.from_cache and len(result.train_losses) == QUICK.steps
    monkeypatch.setattr(run_cache, "save_checkpoint", saves)
    assert not _cached({"run": 1}, calls)[1].from_cache and len(calls) == 2  # nothing half-kept was loaded


def test_a_run_without_a_usable_key_is_a_clear_error(cache):
    with pytest.raises(ValueError, match="a run's key must be a non-empty dict"):
        run_cache.cached("runs", {}, GPT(CONFIG), lambda: None)
    with pytest.raises(TypeError, match="'object', which is not JSON"):
        run_cache.cached("runs", {"what": object()}, GPT(CONFIG), lambda: None)
