"""What generating text costs: tokens per second and joules per 1,000 tokens, of any model that generates.

    cost = generation_cost(model, "teacher (reference)", bits_per_char=1.85)   # measured, and one ledger row
    cost.uses_per_s, cost.joules_per_1000, cost.dynamic_joules_per_1000   # a use is a generated token

A lighter model (distilled, quantized, pruned, windowed) is worth what it saves here, at the quality it keeps:
`ledger.models()` puts the two side by side.
"""

from __future__ import annotations

import torch
from torch import nn

from greenlab.measurement.energy import UseCost, measure, record_in_ledger
from greenlab.measurement.timing import repeat_for


@torch.no_grad()
def generation_cost(model: nn.Module, name: str, bits_per_char: float | None = None, batch_size: int = 1,
                    new_tokens: int = 100, prompt_tokens: int = 8, min_seconds: float = 0.5,
                    record: bool = True) -> UseCost:
    """Generate `new_tokens` tokens for `batch_size` sequences (greedy, with the KV cache) again and again for at
    least `min_seconds` (long enough for the energy tracker), measured. Recorded in the ledger as an inference
    row of model `name`, with its quality when given, which `ledger.models()` compares. `generate` runs in eval
    mode (no dropout) and gives the model back in the mode it came in."""
    prompt = torch.randint(0, model.config.vocab_size, (batch_size, prompt_tokens),
                           generator=torch.Generator().manual_seed(0)).to(model.wte.weight.device)
    model.generate(prompt, 4, temperature=0)  # warm-up

    def generate_once() -> int:
        model.generate(prompt, new_tokens, temperature=0)
        return batch_size * new_tokens

    with measure(f"generate: {name}, batch {batch_size}", record=False) as m:
        tokens, _ = repeat_for(generate_once, min_seconds)
    m.label = f"generate: {name}, batch {batch_size}, {tokens} tokens"
    if record:
        record_in_ledger(m, model=name, tokens=tokens, bits_per_char=bits_per_char)
    return UseCost(tokens, m)
