import os

import pytest
import torch
from safetensors import SafetensorError
from safetensors.torch import save_file, save_model
from torch import nn

from greenlab.foundations import checkpoints
from greenlab.foundations.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from greenlab.models.gpt import GPT, GPTConfig


def test_checkpoint_round_trip(tmp_path, bigram):
    torch.manual_seed(0)
    model = bigram()
    path = save_checkpoint(model, tmp_path / "bigram.safetensors", {"vocab": 256})
    fresh = bigram()
    assert load_checkpoint(fresh, path) == {"vocab": 256}
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)


def test_checkpoint_with_tied_weights(tmp_path, bigram):
    model = bigram(vocab=32)
    model.head = nn.Linear(32, 32, bias=False)
    model.head.weight = model.embed.weight
    path = save_checkpoint(model, tmp_path / "tied.safetensors")
    fresh = bigram(vocab=32)
    fresh.head = nn.Linear(32, 32, bias=False)
    fresh.head.weight = fresh.embed.weight
    load_checkpoint(fresh, path)
    assert torch.equal(fresh.head.weight, model.embed.weight)


def test_missing_checkpoint_names_the_path(tmp_path, bigram):
    with pytest.raises(CheckpointError, match="no checkpoint at .*nothing.safetensors"):
        load_checkpoint(bigram(), tmp_path / "nothing.safetensors")


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, bigram):
    path = tmp_path / "corrupt.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all")
    with pytest.raises(CheckpointError, match="not a readable safetensors checkpoint"):
        load_checkpoint(bigram(), path)


def test_checkpoint_of_another_shape_is_a_clear_error(tmp_path, bigram):
    path = save_checkpoint(bigram(vocab=100), tmp_path / "small.safetensors")
    with pytest.raises(CheckpointError, match="embed.weight has shape \\(100, 32\\)"):
        load_checkpoint(bigram(), path)


def test_checkpoint_of_another_model_is_a_clear_error(tmp_path, bigram):
    path = save_checkpoint(nn.Linear(3, 3), tmp_path / "linear.safetensors")
    with pytest.raises(CheckpointError, match="does not fit this model"):
        load_checkpoint(bigram(), path)


TINY_GPT = dict(vocab_size=64, block_size=16, n_layer=1, n_head=4, n_embd=32)


@pytest.mark.parametrize("change", [{"n_head": 2}, {"window": 8}])
def test_checkpoint_of_another_config_with_the_same_shapes_is_refused(tmp_path, change):
    path = save_checkpoint(GPT(GPTConfig(**TINY_GPT)), tmp_path / "gpt.safetensors")
    other = GPT(GPTConfig(**{**TINY_GPT, **change}))  # every tensor has the same shape
    (name, value), = change.items()
    with pytest.raises(CheckpointError, match=f"another config: {name}={TINY_GPT.get(name)!r} in the file, "
                                              f"{value!r} in the model"):
        load_checkpoint(other, path)


def test_a_checkpoint_without_a_config_is_refused_for_a_model_with_one(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_model(GPT(GPTConfig(**TINY_GPT)), str(path))  # no config in its header
    with pytest.raises(CheckpointError, match="holds no config .it was not saved by save_checkpoint"):
        load_checkpoint(GPT(GPTConfig(**{**TINY_GPT, "n_head": 2})), path)


def test_a_checkpoint_without_a_config_names_the_file_and_loads_only_on_the_callers_word(tmp_path, bigram):
    model = GPT(GPTConfig(**TINY_GPT))
    path = tmp_path / "plain.safetensors"
    save_model(model, str(path))
    fresh = GPT(GPTConfig(**TINY_GPT))
    with pytest.raises(CheckpointError, match=f"^{path} holds no config.*trust_missing_config=True"):
        load_checkpoint(fresh, path)
    assert load_checkpoint(fresh, path, trust_missing_config=True) == {}
    assert torch.equal(fresh.wte.weight, model.wte.weight)
    broken = tmp_path / "broken.safetensors"
    save_model(bigram(), str(broken))  # trusted or not, the shapes are still checked
    with pytest.raises(CheckpointError, match="does not fit this model"):
        load_checkpoint(GPT(GPTConfig(**TINY_GPT)), broken, trust_missing_config=True)


def test_checkpoint_loads_into_another_attention_kernel(tmp_path):
    model = GPT(GPTConfig(**TINY_GPT))
    path = save_checkpoint(model, tmp_path / "gpt.safetensors")
    math_kernel = GPT(GPTConfig(**TINY_GPT, attention="math", dropout=0.1))  # how it computes, not what it means
    load_checkpoint(math_kernel, path)
    assert torch.equal(math_kernel.wte.weight, model.wte.weight)


def test_checkpoint_with_integer_weights_is_refused(tmp_path, bigram):
    path = tmp_path / "ints.safetensors"
    save_file({key: torch.ones_like(t, dtype=torch.int64) for key, t in bigram().state_dict().items()}, str(path))
    with pytest.raises(CheckpointError, match="embed.weight is torch.int64 in the file and torch.float32"):
        load_checkpoint(bigram(), path)


def test_checkpoint_with_nan_weights_is_refused_and_the_model_untouched(tmp_path, bigram):
    model = bigram()
    with torch.no_grad():
        model.norm.weight[3] = float("nan")
    path = save_checkpoint(model, tmp_path / "nan.safetensors")
    fresh = bigram()
    before = {key: t.clone() for key, t in fresh.state_dict().items()}
    with pytest.raises(CheckpointError, match="NaN or infinite values in norm.weight"):
        load_checkpoint(fresh, path)
    assert all(torch.equal(before[key], t) for key, t in fresh.state_dict().items())


def test_a_saved_checkpoint_is_readable_as_any_new_file_and_leaves_nothing_behind(tmp_path):
    umask = os.umask(0o022)
    try:
        path = save_checkpoint(GPT(GPTConfig(**TINY_GPT)), tmp_path / "gpt.safetensors")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["gpt.safetensors"]


def test_a_checkpoint_that_cannot_be_written_is_an_os_error_naming_the_path(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):  # what safetensors raises on a read-only mount
        raise SafetensorError("Error while serializing: I/O error: Read-only file system (os error 30)")

    monkeypatch.setattr(checkpoints, "save_model", read_only)
    with pytest.raises(OSError, match=f"cannot write the checkpoint {tmp_path / 'gpt.safetensors'} .*Read-only"):
        save_checkpoint(GPT(GPTConfig(**TINY_GPT)), tmp_path / "gpt.safetensors")
    assert not any(tmp_path.iterdir())  # no .partial file left behind


@pytest.mark.parametrize("header", [{"greenlab": "[1, 2]"}, {"greenlab": "{}", "config": "5"},
                                    {"greenlab": "{}", "config": "[1]"}])
def test_a_checkpoint_whose_header_is_not_ours_is_a_checkpoint_error(tmp_path, header, bigram):
    model = bigram()
    path = tmp_path / "odd.safetensors"
    save_file({name: tensor.contiguous() for name, tensor in model.state_dict().items()}, str(path), metadata=header)
    # once a TypeError from inside the config comparison, or the list handed back as the metadata
    with pytest.raises(CheckpointError, match="odd.safetensors .*must be JSON objects"):
        load_checkpoint(model, path)


@pytest.mark.parametrize("metadata", ["abc", [1, 2], {"run": object()}])
def test_metadata_must_be_a_json_object(tmp_path, metadata, bigram):
    with pytest.raises(TypeError, match="metadata must be a dict of JSON values"):
        save_checkpoint(bigram(), tmp_path / "model.safetensors", metadata)
    assert not (tmp_path / "model.safetensors").exists()
