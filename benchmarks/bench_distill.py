"""Teacher, student and their int8 versions: generation speed at batch 1 and 8, in one run.

The teacher is the reference architecture (4 layers, width 128); the student is `distill.half_size` of it
(2 layers, width 64). Speed does not depend on the weights, so both are freshly initialised. Each model generates
100 tokens greedily with its KV cache, the models taking turns round by round; the fastest round is kept.
Machines are noisy: read the ratios.

    python benchmarks/bench_distill.py [--rounds 3] [--tokens 100]
"""

from __future__ import annotations

import argparse
from functools import partial

import torch

from greenlab.measurement.timing import interleaved_seconds
from greenlab.models.gpt import GPT
from greenlab.training.compress import quantize_int8
from greenlab.training.distill import half_size
from greenlab.training.zoo import recipe

TARGET = 1.8  # student vs teacher, tokens per second at batch 1


@torch.no_grad()
def generate(model: torch.nn.Module, batch_size: int, tokens: int) -> None:
    prompt = torch.randint(0, model.config.vocab_size, (batch_size, 8), generator=torch.Generator().manual_seed(0))
    model.generate(prompt, tokens, temperature=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=100)
    args = parser.parse_args()
    torch.manual_seed(0)
    teacher = GPT(recipe("reference").model).eval()
    student = GPT(half_size(teacher.config)).eval()
    models = {"teacher": teacher, "student": student, "teacher int8": quantize_int8(teacher),
              "student int8": quantize_int8(student)}
    print(f"{'model':<14}{'parameters':>12}" + "".join(f"{f'batch {b}: tok/s':>18}{'ms/step':>9}{'vs teacher':>12}"
                                                       for b in (1, 8)))
    best: dict[tuple[str, int], float] = {}
    for batch_size in (1, 8):
        calls = {name: partial(generate, model, batch_size, args.tokens) for name, model in models.items()}
        for name, seconds in interleaved_seconds(calls, args.rounds).items():
            best[name, batch_size] = min(seconds)
    for name, model in models.items():
        cells = ""
        for batch_size in (1, 8):
            seconds = best[name, batch_size]
            cells += (f"{batch_size * args.tokens / seconds:>18,.0f}{seconds / args.tokens * 1000:>9.2f}"
                      f"{best['teacher', batch_size] / seconds:>11.2f}x")
        parameters = sum(p.numel() for p in model.parameters()) if "int8" not in name else "(int8)"
        print(f"{name:<14}{parameters:>12}{cells}")
    speedup = best["teacher", 1] / best["student", 1]
    print(f"\ntarget: student ≥ {TARGET}x the teacher's tokens/s at batch 1: {speedup:.2f}x, "
          f"{'met' if speedup >= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
