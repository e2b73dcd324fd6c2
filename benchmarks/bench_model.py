"""greenlab's GPT against Hugging Face's GPT2LMHeadModel of the same configuration, in one run.

Training throughput (tokens/s of forward + backward + AdamW step) at a small and a larger configuration, the two
models interleaved step by step so that both see the same machine load; then generation speed of our GPT with
and without its key/value cache. Machines are noisy: read the ratios, not the seconds.

    python benchmarks/bench_model.py [--steps 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from greenlab.interop import to_hf
from greenlab.model import GPT, GPTConfig
from greenlab.train import TrainConfig, make_optimizer

CONFIGS = {  # name: (model, batch size)
    "small 4/4/128, context 64, batch 12": (GPTConfig(vocab_size=4096, block_size=64, n_layer=4, n_head=4,
                                                      n_embd=128), 12),
    "larger 6/6/384, context 256, batch 16": (GPTConfig(vocab_size=4096, block_size=256, n_layer=6, n_head=6,
                                                        n_embd=384), 16),
}


def step_seconds(model: torch.nn.Module, optimizer: torch.optim.Optimizer, ids: torch.Tensor, hf: bool) -> float:
    """Seconds for one forward + backward + AdamW step."""
    start = time.perf_counter()
    logits = model(ids).logits if hf else model(ids)
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start


def training_throughput(config: GPTConfig, batch: int, steps: int) -> tuple[float, float]:
    torch.manual_seed(0)
    ours = GPT(config).train()
    theirs = to_hf(ours).train()
    optimizers = {"ours": make_optimizer(ours, TrainConfig()), "hf": make_optimizer(theirs, TrainConfig())}
    ids = torch.randint(0, config.vocab_size, (batch, config.block_size))
    times = {"ours": [], "hf": []}
    for step in range(steps + 3):
        for name, model in (("ours", ours), ("hf", theirs)):
            seconds = step_seconds(model, optimizers[name], ids, hf=name == "hf")
            if step >= 3:  # the first steps warm up allocators and caches
                times[name].append(seconds)
    tokens = batch * config.block_size
    return tokens / statistics.median(times["ours"]), tokens / statistics.median(times["hf"])


def generation_speed(new_tokens: int = 200) -> tuple[float, float]:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=4096, block_size=256, n_layer=4, n_head=4, n_embd=128)).eval()
    prompt = torch.randint(0, 4096, (1, 8))
    speeds = []
    for use_cache in (True, False):
        start = time.perf_counter()
        model.generate(prompt, new_tokens, temperature=0, use_cache=use_cache)
        speeds.append(new_tokens / (time.perf_counter() - start))
    return speeds[0], speeds[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    steps = parser.parse_args().steps
    print(f"training throughput, tokens/s (median of {steps} interleaved steps)")
    print(f"{'configuration':<40}{'greenlab':>10}{'HF GPT-2':>10}{'ratio':>8}")
    for name, (config, batch) in CONFIGS.items():
        ours, theirs = training_throughput(config, batch, steps)
        print(f"{name:<40}{ours:>10,.0f}{theirs:>10,.0f}{ours / theirs:>7.2f}x")
    cached, uncached = generation_speed()
    print(f"generation, tokens/s (4/4/128, 200 new tokens): with KV cache {cached:,.0f}, without {uncached:,.0f}, "
          f"ratio {cached / uncached:.2f}x")


if __name__ == "__main__":
    main()
