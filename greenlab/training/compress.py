"""Lighter models after training: int8 quantization and magnitude pruning, and what each one buys.

    quantize_int8(model)            Linear layers to int8 weights, activations quantized on the fly (dynamic)
    prune(model, amount)            zero the smallest weights: one by one (unstructured) or whole rows (structured)
    nonzero_parameters, size_on_disk
                                    what a lighter model stores: values, bytes (plain and zipped); its speed and
                                    joules per 1,000 generated tokens: greenlab.experiments.generation_cost

Quantization uses PyTorch's own `torch.ao.quantization.quantize_dynamic` with its fbgemm/x86 int8 kernels, which
run fast on a CPU as they are. (PyTorch marks that API deprecated in favour of `torchao`, whose CPU int8 path
needs `torch.compile` to be fast; until then the built-in one serves a CPU course better.) Pruning uses
`torch.nn.utils.prune`. Zeros do not make a dense matrix smaller or faster: unstructured pruning pays off in a
compressed file or with sparse kernels, structured pruning by removing the rows for real.
"""

from __future__ import annotations

import copy
import io
import warnings
import zipfile

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of `model` whose Linear layers hold int8 weights and quantize activations at run time (CPU only)."""
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # the deprecation notice of torch.ao.quantization, explained above
        warnings.simplefilter("ignore")
        return quantize_dynamic(copy.deepcopy(model).cpu().eval(), {nn.Linear}, dtype=torch.qint8)


def _prunable(model: nn.Module) -> list[nn.Linear]:
    """Linear layers whose weight is their own (a head tied to the embedding is left alone)."""
    tied = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    return [m for m in model.modules() if isinstance(m, nn.Linear) and id(m.weight) not in tied]


def prune(model: nn.Module, amount: float, structured: bool = False) -> nn.Module:
    """A copy of `model` with the `amount` fraction of each Linear weight set to zero: the smallest in absolute
    value (unstructured), or whole output rows with the smallest L2 norm (structured)."""
    if not 0 <= amount < 1:
        raise ValueError(f"the pruning amount is the fraction of weights removed, in [0, 1), got {amount!r}")
    pruned = copy.deepcopy(model)
    for layer in _prunable(pruned):
        if structured:
            torch_prune.ln_structured(layer, "weight", amount=amount, n=2, dim=0)
        else:
            torch_prune.l1_unstructured(layer, "weight", amount=amount)
        torch_prune.remove(layer, "weight")  # make it permanent: a plain weight with zeros in it
    return pruned


def nonzero_parameters(model: nn.Module) -> int:
    """Stored values that are not exactly zero, int8 weights included (each shared tensor once)."""
    seen, count = set(), 0
    tensors = list(model.state_dict().values())
    while tensors:
        t = tensors.pop()
        if isinstance(t, (tuple, list)):  # a quantized layer stores (weight, bias)
            tensors.extend(t)
        elif isinstance(t, torch.Tensor) and t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            count += int(torch.count_nonzero(t.dequantize() if t.is_quantized else t))
    return count


def size_on_disk(model: nn.Module) -> tuple[int, int]:
    """Bytes of the model's saved state (weights only), and of the same bytes zip-compressed."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    raw = buffer.getvalue()
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("weights", raw)
    return len(raw), len(zipped.getvalue())
