"""greenlab's GPT against Hugging Face's GPT2LMHeadModel of the same configuration, in one run.

Training throughput (tokens/s of forward + backward + AdamW step) at a small and a larger configuration, the two
models interleaved step by step so that both see the same machine load; then generation speed of our GPT with
and without its key/value cache. Machines are noisy: read the ratios, not the seconds.

Both models run the same matrix multiplies, and the same loss and optimizer, so leaner model code can only save
the rest of a step. The profiler splits a step into those parts; the ceiling is the ratio greenlab would reach if
the rest cost nothing.

    python benchmarks/bench_model.py [--steps 20]
"""

from __future__ import annotations

import argparse
from typing import Callable

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from greenlab.measurement.timing import median_seconds
from greenlab.models.gpt import GPT, GPTConfig
from greenlab.models.interop import to_hf
from greenlab.training.train import TrainConfig, make_optimizer

CONFIGS = {  # name: (model, batch size)
    "small 4/4/128, context 64, batch 12": (GPTConfig(vocab_size=4096, block_size=64, n_layer=4, n_head=4,
                                                      n_embd=128), 12),
    "larger 6/6/384, context 256, batch 16": (GPTConfig(vocab_size=4096, block_size=256, n_layer=6, n_head=6,
                                                        n_embd=384), 16),
}


MATMUL_OPS = {"aten::mm", "aten::addmm", "aten::bmm"}
LOSS_BACKWARD = ("LogSoftmaxBackward0", "NllLossBackward0")  # autograd nodes of cross-entropy
PARTS = ("matmul", "loss", "optimizer", "model, other")


def training_step(model: torch.nn.Module, tokens: torch.Tensor, hf: bool) -> Callable[[], None]:
    """One forward + backward + AdamW step of `model`, predicting tokens[:, 1:] from tokens[:, :-1]."""
    optimizer = make_optimizer(model, TrainConfig())
    inputs, targets = tokens[:, :-1], tokens[:, 1:].flatten()

    def step() -> None:
        logits = model(inputs).logits if hf else model(inputs)
        with record_function("loss"):
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def time_split(step: Callable[[], None], steps: int = 3) -> dict[str, float]:
    """Profiler milliseconds per step in matrix multiplies, the loss, the optimizer, and the model's other work."""
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(steps):
            step()
    split = dict.fromkeys(PARTS, 0.0)
    for event in profiler.events():
        root = event
        while root.cpu_parent is not None:
            root = root.cpu_parent
        if event.name in MATMUL_OPS:
            part = "matmul"
        elif root.name.startswith("Optimizer."):
            part = "optimizer"
        elif root.name == "loss" or root.name.endswith(LOSS_BACKWARD):
            part = "loss"
        else:
            part = "model, other"
        split[part] += event.self_cpu_time_total / 1000 / steps
    return split


def training_throughput(config: GPTConfig, batch: int, steps: int) -> dict[str, tuple[float, dict[str, float]]]:
    """Per model: tokens/s, and where a step's time goes."""
    torch.manual_seed(0)
    ours = GPT(config).train()
    tokens = torch.randint(0, config.vocab_size, (batch, config.block_size + 1))
    runs = {"ours": training_step(ours, tokens, hf=False), "hf": training_step(to_hf(ours).train(), tokens, hf=True)}
    times = median_seconds(runs, steps, warmup=3)  # the first steps warm up allocators and caches
    return {name: (batch * config.block_size / times[name], time_split(run)) for name, run in runs.items()}


def generation_speed(new_tokens: int = 200, rounds: int = 3) -> tuple[float, float]:
    """Tokens per second of our GPT generating with and without its key/value cache (median of `rounds`)."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=4096, block_size=256, n_layer=4, n_head=4, n_embd=128)).eval()
    prompt = torch.randint(0, 4096, (1, 8))
    seconds = median_seconds({"cached": lambda: model.generate(prompt, new_tokens, temperature=0, use_cache=True),
                              "uncached": lambda: model.generate(prompt, new_tokens, temperature=0, use_cache=False)},
                             rounds)
    return new_tokens / seconds["cached"], new_tokens / seconds["uncached"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    steps = parser.parse_args().steps
    print(f"training throughput, tokens/s (median of {steps} interleaved steps)")
    print(f"{'configuration':<40}{'greenlab':>10}{'HF GPT-2':>10}{'ratio':>8}{'ceiling':>9}")
    splits = {}
    for name, (config, batch) in CONFIGS.items():
        measured = training_throughput(config, batch, steps)
        (ours, splits[name, "greenlab"]), (theirs, hf_split) = measured["ours"], measured["hf"]
        splits[name, "HF GPT-2"] = hf_split
        ceiling = sum(hf_split.values()) / (sum(hf_split.values()) - hf_split["model, other"])
        print(f"{name:<40}{ours:>10,.0f}{theirs:>10,.0f}{ours / theirs:>7.2f}x{ceiling:>8.2f}x")
    print("\nwhere a step's time goes, ms (profiler; shares of the step in brackets)")
    print(f"{'configuration':<40}{'model':<10}" + "".join(f"{part:>17}" for part in PARTS))
    for (name, model), split in splits.items():
        total = sum(split.values())
        print(f"{name:<40}{model:<10}" + "".join(f"{ms:>10.1f} ({ms / total:>3.0%})" for ms in split.values()))
    print("Both models run the same matrix multiplies, loss and optimizer; only 'model, other' (attention, GELU,\n"
          "LayerNorm, embeddings, copies) can differ. ceiling: the ratio greenlab would reach if its 'model, other'\n"
          "cost nothing at all.")
    cached, uncached = generation_speed()
    print(f"generation, tokens/s (4/4/128, 200 new tokens): with KV cache {cached:,.0f}, without {uncached:,.0f}, "
          f"ratio {cached / uncached:.2f}x")


if __name__ == "__main__":
    main()
