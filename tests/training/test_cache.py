import json
import threading

import pytest
import torch
from safetensors import SafetensorError

from greenlab.foundations import checkpoints
from greenlab.measurement import ledger
from greenlab.models.gpt import GPT, GPTConfig
from greenlab.training import cache as training_cache
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

    return model, training_cache.cached("runs", key, model, run)


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
@pytest.mark.parametrize("damage, warning", [
    ("weights", "model.safetensors is missing or differs from the file cached with runs run"),
    ("checksum", "does not hold a SHA-256 for each of model.safetensors, history.json"),
    ("manifest", "the cached runs run .* is unreadable"),
    ("history", r"the cached runs run .* is unreadable \(KeyError: .train_losses.\)"),  # checksum rewritten: on loading
    ("fingerprint", "the cached runs run .* was made by another recipe")])
def test_a_damaged_run_is_named_and_trained_again(cache, damage, warning):
    calls = []
    _cached({"run": 1}, calls)
    [folder] = _folders(cache)
    manifest = json.loads((folder / "recipe.json").read_text())
    if damage == "weights":
        (folder / "model.safetensors").write_bytes(b"not weights")
    elif damage == "checksum":
        (folder / "recipe.json").write_text(json.dumps({**manifest, "sha256": "0" * 63}))
    elif damage == "manifest":
        (folder / "recipe.json").write_text("{ not json")
    elif damage == "history":
        (folder / "history.json").write_text('{"config": {}}')
        sha256 = {**manifest["sha256"], "history.json": training_cache.file_sha256(folder / "history.json")}
        (folder / "recipe.json").write_text(json.dumps({**manifest, "sha256": sha256}))
    else:
        (folder / "recipe.json").write_text(json.dumps({**manifest, "fingerprint": "another"}))
    with pytest.warns(UserWarning, match=warning):
        _, again = _cached({"run": 1}, calls)
    assert len(calls) == 2 and not again.from_cache
    assert _cached({"run": 1}, calls)[1].from_cache  # kept whole again


def test_a_run_is_kept_as_the_zoo_keeps_a_model(cache):
    """One folder rule and one manifest for every trained model: the files, then recipe.json with the
    fingerprint of the key (the folder's name), the SHA-256 of each file and the versions that trained it."""
    _cached({"run": 1}, [])
    [folder] = _folders(cache)
    manifest = json.loads((folder / "recipe.json").read_text())
    assert folder.name == manifest["fingerprint"] == training_cache.fingerprint({"run": 1})
    assert manifest["sha256"] == {name: training_cache.file_sha256(folder / name)
                                  for name in ("model.safetensors", "history.json")}
    assert manifest["trained_with"]["torch"] == torch.__version__ and "recipe" not in manifest


def _disk_full(*args, **kwargs):
    raise OSError(28, "No space left on device")


def _read_only(*args, **kwargs):  # what safetensors raises on a read-only mount: not an OSError of its own
    raise SafetensorError("Error while serializing: I/O error: Read-only file system (os error 30)")


@pytest.mark.filterwarnings("ignore:.*below the energy tracker's resolution")
@pytest.mark.parametrize("module, writer, failure, message", [
    (training_cache, "save_checkpoint", _disk_full, "No space left on device"),
    (checkpoints, "save_model", _read_only, "Read-only file system")])
def test_a_run_that_cannot_be_kept_is_still_returned(cache, monkeypatch, module, writer, failure, message):
    works = getattr(module, writer)
    monkeypatch.setattr(module, writer, failure)
    calls = []
    with pytest.warns(UserWarning, match=f"could not be kept in .*{message}.*will train again"):
        model, result = _cached({"run": 1}, calls)
    assert len(calls) == 1 and not result.from_cache and len(result.train_losses) == QUICK.steps
    monkeypatch.setattr(module, writer, works)  # not monkeypatch.undo(), which would unset the test's cache
    assert not _cached({"run": 1}, calls)[1].from_cache and len(calls) == 2  # nothing half-kept was loaded


@pytest.mark.filterwarnings("ignore:.*below the energy tracker's resolution")
def test_two_threads_asking_for_the_same_run_at_once_train_it_once(cache):
    calls, results, start = [], [], threading.Barrier(2)

    def ask() -> None:
        start.wait()
        results.append(_cached({"run": "shared"}, calls)[1])

    askers = [threading.Thread(target=ask) for _ in range(2)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join(timeout=120)
    assert len(calls) == 1 and sorted(result.from_cache for result in results) == [False, True]


def test_a_run_without_a_usable_key_is_a_clear_error(cache):
    with pytest.raises(ValueError, match="a run's key must be a non-empty dict"):
        training_cache.cached("runs", {}, GPT(CONFIG), lambda: None)
    with pytest.raises(TypeError, match="'object', which is not JSON"):
        training_cache.cached("runs", {"what": object()}, GPT(CONFIG), lambda: None)
