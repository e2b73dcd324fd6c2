import hashlib
import importlib.util
import json
import platform
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors import SafetensorError

from greenlab.foundations import checkpoints
from greenlab.foundations.checkpoints import save_checkpoint
from greenlab.models.gpt import GPTConfig
from greenlab.models.seq2seq import Seq2SeqConfig
from greenlab.training import zoo
from greenlab.training.train import TrainConfig
from greenlab.training.translate import translate

ROOT = Path(__file__).resolve().parents[2]  # the repository, above tests/training/


def test_trains_once_then_loads_from_the_cache(tiny):
    first = zoo.load(tiny, progress=False)
    assert first.trained_now and (first.folder / "model.safetensors").exists()
    assert first.history["measurement"]["label"] == "zoo: train tiny (cpu)"
    second = zoo.load(tiny)
    assert not second.trained_now
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)
    assert second.tokenizer.merges == first.tokenizer.merges
    assert second.history["validation"] == first.history["validation"]


def test_the_same_recipe_gives_the_same_model(tiny):
    first = zoo.load(tiny, progress=False)
    again = zoo.load(tiny, retrain=True, progress=False)
    assert again.trained_now and again.history["train_losses"] == first.history["train_losses"]


def test_another_torch_or_python_keeps_the_cache_and_is_recorded(tiny, monkeypatch):
    first = zoo.load(tiny, progress=False)
    recorded = json.loads((first.folder / "recipe.json").read_text())["trained_with"]
    assert recorded == {"torch": torch.__version__, "python": platform.python_version()}
    fingerprint = zoo.recipe(tiny).fingerprint()
    monkeypatch.setattr(torch, "__version__", "2.11.0")
    monkeypatch.setattr(zoo.cache.sys, "version_info", (3, 13, 0, "final", 0))
    assert zoo.recipe(tiny).fingerprint() == fingerprint
    assert not zoo.load(tiny, progress=False).trained_now


def test_a_changed_recipe_is_retrained(tiny, monkeypatch):
    zoo.load(tiny, progress=False)
    recipe = json.loads((zoo.folder_of(tiny) / "recipe.json").read_text())
    recipe["fingerprint"] = "something else"
    (zoo.folder_of(tiny) / "recipe.json").write_text(json.dumps(recipe))
    with pytest.warns(UserWarning, match="another recipe"):
        assert zoo.load(tiny, progress=False).trained_now


@pytest.mark.parametrize("checksums", ["absent", None, "abc", {}, {"model.safetensors": "abc"}])
def test_a_recipe_json_without_valid_checksums_is_retrained_and_repaired(tiny, checksums):
    zoo.load(tiny, progress=False)
    path = zoo.folder_of(tiny) / "recipe.json"
    stored = json.loads(path.read_text())
    if checksums == "absent":
        del stored["sha256"]
    else:
        stored["sha256"] = checksums
    path.write_text(json.dumps(stored))
    (zoo.folder_of(tiny) / "history.json").write_text("garbage")
    with pytest.warns(UserWarning, match="does not hold a SHA-256 for each of"):
        assert zoo.load(tiny, progress=False).trained_now
    assert not zoo.load(tiny, progress=False).trained_now  # repaired


def test_a_corrupt_cache_is_retrained_with_a_warning(tiny):
    zoo.load(tiny, progress=False)
    (zoo.folder_of(tiny) / "model.safetensors").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="model.safetensors is missing or differs"):
        assert zoo.load(tiny, progress=False).trained_now


def _read_only(*args, **kwargs):
    raise SafetensorError("Error while serializing: I/O error: Read-only file system (os error 30)")


def test_a_damaged_model_in_a_read_only_cache_is_retrained_and_still_returned(tiny, monkeypatch):
    zoo.load(tiny, progress=False)
    (zoo.folder_of(tiny) / "model.safetensors").write_bytes(b"garbage")
    monkeypatch.setattr(checkpoints, "save_model", _read_only)  # what safetensors raises on a read-only mount
    with pytest.warns(UserWarning) as warned:
        again = zoo.load(tiny, progress=False)
    assert again.trained_now and all(torch.isfinite(p).all() for p in again.model.parameters())
    assert any(f"the trained 'tiny' could not be kept in {zoo.folder_of(tiny)}" in str(w.message)
               and "Read-only file system" in str(w.message) for w in warned)


def test_a_translator_in_a_cache_that_cannot_be_written_is_still_returned(tiny_translators, monkeypatch):
    monkeypatch.setattr(checkpoints, "save_model", _read_only)
    with pytest.warns(UserWarning, match="the trained 'tiny-translator' could not be kept in .*will train again"):
        assert zoo.load_translator("tiny-translator", progress=False).trained_now


def test_a_recipe_that_cannot_make_a_model_is_refused_naming_the_field():
    r = zoo.recipe("tiny")
    for change, message in [({"vocab_size": 400}, "Recipe.vocab_size=400 .the tokenizer's. differs from "
                                                  "model.vocab_size=300"),
                            ({"vocab_size": "300"}, "Recipe.vocab_size must be a whole number >= 257"),
                            ({"corpus": "poems"}, "Recipe.corpus='poems' is unknown; available: pydoc"),
                            ({"name": 5}, "Recipe.name must be a string, got 5")]:
        with pytest.raises(ValueError, match=message):
            replace(r, **change)


def test_the_memory_floor_counts_the_activations_of_every_layer():
    r = zoo.recipe("tiny")
    deep = replace(r, model=replace(r.model, n_layer=64), training=replace(r.training, batch_size=100_000))
    # 100,000 × 16 tokens × 64 layers × 16 activations of width 16, 4 bytes each: 105 GB (the logits: 3.8 GB)
    assert deep.training_memory_floor() > 100e9


def test_unknown_model_lists_the_zoo():
    with pytest.raises(ValueError, match="unknown model 'giant'; the zoo has: reference"):
        zoo.recipe("giant")


def test_profiles_choose_the_recipe(monkeypatch):
    monkeypatch.setenv("GREENLAB_PROFILE", "gpu")
    assert zoo.recipe("reference").model.n_embd > zoo.RECIPES["reference"]["cpu"].model.n_embd


@pytest.mark.parametrize("damaged", ["model.safetensors", "history.json", "tokenizer.json"])
def test_a_damaged_cached_file_is_named_and_retrained(tiny, damaged):
    zoo.load(tiny, progress=False)
    path = zoo.folder_of(tiny) / damaged
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = b"\xff" * 64  # the weights stay loadable, as NaNs
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match=f"{damaged} is missing or differs.*training"):
        again = zoo.load(tiny, progress=False)
    assert again.trained_now and all(torch.isfinite(p).all() for p in again.model.parameters())
    assert not zoo.load(tiny, progress=False).trained_now  # the retrained cache is whole again


def test_non_finite_weights_are_retrained_even_when_their_checksum_matches(tiny):
    pretrained = zoo.load(tiny, progress=False)
    folder = zoo.folder_of(tiny)
    with torch.no_grad():
        pretrained.model.wte.weight[0, 0] = float("nan")
    save_checkpoint(pretrained.model, folder / "model.safetensors")
    stored = json.loads((folder / "recipe.json").read_text())
    stored["sha256"]["model.safetensors"] = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    (folder / "recipe.json").write_text(json.dumps(stored))  # the NaN was there when the cache was written
    with pytest.warns(UserWarning, match="holds NaN or infinite values in lm_head.weight"):
        assert zoo.load(tiny, progress=False).trained_now


def test_a_recipe_round_trips_through_its_dict_and_a_bad_one_is_named():
    r = zoo.recipe("reference")
    assert zoo.Recipe.from_dict(asdict(r)) == r
    with pytest.raises(ValueError, match="not a recipe.*unexpected keyword argument 'n_layers'"):
        zoo.Recipe.from_dict({**asdict(r), "model": {**asdict(r.model), "n_layers": 3}})
    with pytest.raises(ValueError, match="not a recipe.*KeyError"):
        zoo.Recipe.from_dict({"name": "x"})
    with pytest.raises(ValueError, match="not a recipe: expected a JSON object, got list"):
        zoo.Recipe.from_dict([1, 2])


@pytest.fixture
def tiny_translators(cache, monkeypatch):
    """Two test-size translators on the numbers task: an encoder–decoder and a decoder-only GPT."""
    training = TrainConfig(steps=4, batch_size=4, warmup_steps=1, eval_interval=2, eval_batches=1)
    recipes = {
        "tiny-translator": zoo.TranslatorRecipe(
            "tiny-translator", "test size", "numbers",
            Seq2SeqConfig(vocab_size=34, d_model=16, n_head=2, n_encoder_layer=1, n_decoder_layer=1, d_ff=32,
                          max_source_len=8, max_target_len=72), training),
        "tiny-decoder-only": zoo.TranslatorRecipe(
            "tiny-decoder-only", "test size", "numbers",
            GPTConfig(vocab_size=34, block_size=80, n_layer=1, n_head=2, n_embd=16), training, source_len=8)}
    monkeypatch.setattr(zoo, "TRANSLATORS", recipes)
    return recipes


@pytest.mark.parametrize("name", ["tiny-translator", "tiny-decoder-only"])
def test_a_translator_trains_once_then_loads_from_the_cache(tiny_translators, name):
    first = zoo.load_translator(name, progress=False)
    assert first.trained_now and first.history["measurement"]["label"] == f"zoo: train {name}"
    assert first.history["vocabulary"] == first.vocabulary.itos and len(first.task.train) == 20_000
    second = zoo.load_translator(name)
    assert not second.trained_now and second.history["train_losses"] == first.history["train_losses"]
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)
    sources = first.task.test.sources[:3]
    assert translate(second.model, second.vocabulary, sources) == translate(first.model, first.vocabulary, sources)


def test_a_damaged_translator_is_named_and_retrained(tiny_translators):
    zoo.load_translator("tiny-translator", progress=False)
    path = zoo.cache.folder_of("zoo", "tiny-translator") / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-64] + b"\xff" * 64)
    with pytest.warns(UserWarning, match="model.safetensors is missing or differs.*training"):
        assert zoo.load_translator("tiny-translator", progress=False).trained_now


def test_a_translator_recipe_must_fit_its_task(tiny_translators):
    recipe = tiny_translators["tiny-translator"]
    tiny_translators["tiny-translator"] = replace(recipe, model=replace(recipe.model, vocab_size=40))
    with pytest.raises(ValueError, match="vocab_size=40, but the 'numbers' task has 34 tokens"):
        zoo.load_translator("tiny-translator", progress=False)
    with pytest.raises(ValueError, match="unknown translator 'giant'; the zoo has: tiny-translator"):
        zoo.load_translator("giant")


def test_the_code_recipe_learns_python_from_the_shipped_standard_library(cache):
    code = zoo.recipe("code")
    assert code.corpus == "stdlib" and code.model.vocab_size == code.vocab_size
    short = replace(code, training=replace(code.training, steps=2, warmup_steps=1, eval_interval=1, eval_batches=1))
    trained = zoo.train_recipe(short, cache / "code", progress=False)
    source = "def add(a, b):\n    return a + b\n"
    assert trained.tokenizer.decode(trained.tokenizer.encode(source)) == source
    assert len(trained.tokenizer.encode(source)) < len(source) / 2  # merges learned from code
    assert trained.history["validation_characters"] == 163_345  # the 6 held-out modules


def _bench_recipe():
    spec = importlib.util.spec_from_file_location("bench_recipe", ROOT / "benchmarks" / "bench_recipe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_greener_recipe_differs_from_the_reference_by_its_ablation_only():
    reference, greener = zoo.recipe("reference"), zoo.recipe("greener")
    assert greener.model == replace(reference.model, vocab_size=2048) and greener.vocab_size == 2048
    assert greener.training == replace(reference.training, precision="auto", optimizer="muon", learning_rate=2e-3,
                                       min_learning_rate=2e-4, weight_decay=1.0, steps=900)


def test_the_shipped_ablation_table_is_the_benchmarks_current_ablation():
    rows = _bench_recipe().ablation()  # raises when the kept changes do not add up to the greener recipe
    shipped = pd.read_csv(ROOT / "data" / "greener_recipe_ablation.csv")
    assert list(zip(shipped.change, shipped.verdict)) == [(change, verdict) for change, verdict, _ in rows]
    greener = shipped[shipped.change.str.endswith("the greener recipe")].iloc[0]
    assert greener.bits_per_char < shipped.bits_per_char.iloc[0]  # the measurement the notebook reads


def _load_tiny(cache_folder: str, start) -> None:
    import os

    os.environ["GREENLAB_CACHE"] = cache_folder
    start.wait()  # both processes ask for the model at the same moment
    zoo.load("tiny", progress=False)


def test_two_processes_asking_at_once_train_the_model_once(tiny, cache):
    import multiprocessing

    from greenlab.measurement import ledger

    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    askers = [context.Process(target=_load_tiny, args=(str(cache), start)) for _ in range(2)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join(timeout=120)
    assert [asker.exitcode for asker in askers] == [0, 0]
    assert (ledger.load()["label"] == "zoo: train tiny (cpu)").sum() == 1


def test_the_modern_recipe_is_the_greener_one_with_the_benchmarks_llama_block(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # bench_modern imports bench_recipe beside it
    spec = importlib.util.spec_from_file_location("bench_modern", ROOT / "benchmarks" / "bench_modern.py")
    bench_modern = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_modern)
    greener, modern = zoo.recipe("greener"), zoo.recipe("modern")
    assert modern.model == replace(greener.model, **bench_modern.LLAMA) and modern.training == greener.training
    shipped = pd.read_csv(ROOT / "data" / "modern_block_ablation.csv")
    assert list(dict.fromkeys(shipped.change)) == list(bench_modern.CHANGES)  # the notebook reads every row
    assert {change for change, runs in shipped.groupby("change").size().items() if runs > 1} == \
        set(bench_modern.REPEATED)
