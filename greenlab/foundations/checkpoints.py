"""Checkpoints: a model's weights saved as safetensors, with its config, and loaded only when they fit.

    save_checkpoint(model, "runs/gpt/model.safetensors", {"steps": 600})   # weights + config + metadata
    load_checkpoint(fresh_model, "runs/gpt/model.safetensors")             # -> {"steps": 600}, or CheckpointError

safetensors holds tensors and a text header only, so loading a file runs no code (a pickled `torch.save` file can).
Loading also checks what it loads: the config the file was saved from, every tensor's shape and kind, and that no
weight is NaN or infinite; a file that fails any check leaves the model untouched.
"""

from __future__ import annotations

import json
import os
import reprlib
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_model

from greenlab.foundations.settings import replaced_whole


class CheckpointError(ValueError):
    """A checkpoint file that is missing, corrupt, or does not fit the model; the message names the path."""


# Config fields that say how a model computes or trains, not what its weights mean: a checkpoint of the same model
# loads into another attention kernel (they compute the same function) or another dropout rate.
FREE_CONFIG_FIELDS = ("attention", "dropout")


def _config_of(model: torch.nn.Module) -> dict | None:
    """The model's configuration as a dict (a GPT's `config.to_dict()`), or None for a model without one."""
    config = getattr(model, "config", None)
    return config.to_dict() if hasattr(config, "to_dict") else None


def save_checkpoint(model: torch.nn.Module, path: str | Path, metadata: dict | None = None) -> Path:
    """Save the model's weights, its config (when it has one) and a JSON-able `metadata` dict as safetensors. The
    file appears whole or not at all, readable as any new file is (safetensors alone writes it for its owner only,
    which a shared run folder cannot read); a file that cannot be written is an OSError naming the path."""
    path = Path(path)
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict of JSON values, got {reprlib.repr(metadata)}")
    try:
        header = {"greenlab": json.dumps(metadata)}
    except (TypeError, ValueError) as error:  # a value JSON cannot hold, or a dict that holds itself
        raise TypeError(f"metadata must be a dict of JSON values, got {reprlib.repr(metadata)} ({error})") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    if (config := _config_of(model)) is not None:
        header["config"] = json.dumps(config)
    with replaced_whole(path) as partial:
        try:
            save_model(model, str(partial), metadata=header)
        except SafetensorError as error:  # safetensors reports its I/O errors as its own kind, not as OSError
            raise OSError(f"cannot write the checkpoint {path} ({error})") from None
        umask = os.umask(0)
        os.umask(umask)
        try:
            partial.chmod(0o666 & ~umask)
        except PermissionError:  # a confined process (a graded kernel) may change no mode: it stays owner-only
            pass
    return path


def load_checkpoint(model: torch.nn.Module, path: str | Path, *, trust_missing_config: bool = False) -> dict:
    """Load weights saved by `save_checkpoint` into `model` (strictly); return the saved metadata dict. A file saved
    from another config (even with the same shapes: another n_head or window), tensors of another shape or kind, or
    NaN or infinite weights are a CheckpointError naming the path. A file with no config is refused for a model that
    has one, unless `trust_missing_config`: the caller's word that it was saved from this very config."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            tensors = {key: f.get_tensor(key) for key in f.keys()}
            header = f.metadata() or {}
            metadata = json.loads(header.get("greenlab", "{}"))
            saved_config = json.loads(header["config"]) if "config" in header else None
    except Exception as error:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint ({error})") from None
    if not isinstance(metadata, dict) or not isinstance(saved_config, (dict, type(None))):
        raise CheckpointError(f"{path} has a header that save_checkpoint did not write: its metadata and config must "
                              f"be JSON objects, got a {type(metadata).__name__} and a {type(saved_config).__name__}")
    config = _config_of(model)
    if saved_config is None and config is not None and not trust_missing_config:
        raise CheckpointError(f"{path} holds no config (it was not saved by save_checkpoint; safetensors' "
                              f"save_model, say): whether it fits this model's n_head or window cannot be checked; "
                              f"if you know it was saved from a model of this very config, load it with "
                              f"load_checkpoint(model, path, trust_missing_config=True)")
    if saved_config is not None and config is not None:
        differences = [f"{name}={saved_config.get(name)!r} in the file, {config.get(name)!r} in the model"
                       for name in sorted(set(saved_config) | set(config))
                       if name not in FREE_CONFIG_FIELDS and saved_config.get(name) != config.get(name)]
        if differences:
            raise CheckpointError(f"{path} was saved from a model of another config: {'; '.join(differences)}")
    state = model.state_dict()
    # safetensors stores a tied weight once: a key of the model may be missing when it shares its storage
    stored_ptrs = {state[k].data_ptr() for k in tensors if k in state}
    missing = [k for k in state if k not in tensors and state[k].data_ptr() not in stored_ptrs]
    unexpected = [k for k in tensors if k not in state]
    if missing or unexpected:
        raise CheckpointError(f"{path} does not fit this model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for key, tensor in tensors.items():
        if tensor.shape != state[key].shape:
            raise CheckpointError(f"{path} does not fit this model: {key} has shape {tuple(tensor.shape)} "
                                  f"in the file and {tuple(state[key].shape)} in the model")
        if tensor.is_floating_point() != state[key].is_floating_point():
            raise CheckpointError(f"{path} does not fit this model: {key} is {tensor.dtype} in the file and "
                                  f"{state[key].dtype} in the model")
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"{path} holds NaN or infinite values in {key}")
    with torch.no_grad():
        for key, tensor in tensors.items():
            state[key].copy_(tensor)
    return metadata
