"""Self-check quiz of chapter 05 (notebooks/05_energy_and_carbon.ipynb): measuring energy, and what sets the carbon."""

QUESTIONS = [
    {
        "ask": "On a machine without RAPL, most of each run's estimated energy is the static part. Two training "
               "methods' total joules differ by a factor of 2. What does that ratio mostly reflect?",
        "options": [
            "The ratio of the memory they allocate: the RAM model follows the memory a process uses.",
            "The ratio of their FLOPs, since the CPU estimate is load × TDP.",
            "The ratio of their run times: the static part is a constant power × the duration.",
            "Nothing: estimated joules cannot be compared at all, even on the same machine.",
        ],
        "answer": "c",
        "why": "Without counters codecarbon charges the RAM a constant power set by the machine's memory size, for "
               "as long as the block lasts, whatever it computes. Where that static part is most of the total, a "
               "ratio of totals is mostly a ratio of times: compare methods on the dynamic part.",
        "see": "2. Measuring well",
    },
    {
        "ask": "A training token pays a forward pass, a backward pass and an optimizer update; a generated token only "
               "a forward pass. Why can a generated token at batch 1 still cost more energy than a training token?",
        "options": [
            "The key/value cache makes every step recompute all the earlier tokens.",
            "At batch 1 the model runs one position at a time and leaves the machine poorly used.",
            "Generation runs the model in float64 for accuracy, while training runs it in bfloat16.",
            "Picking the next token from 4,096 probabilities costs more than the model's forward pass.",
        ],
        "answer": "b",
        "why": "Training tokens go through in big parallel batches; generation at batch 1 feeds one position per step "
               "(the key/value cache avoids recomputing the earlier ones), so the machine is poorly used. Batching "
               "generation recovers most of it.",
        "see": "3. What a token costs: training against inference",
    },
    {
        "ask": "The same training's accelerator energy, in an industry-average data centre (PUE 1.58) on the USA's "
               "grid (369 gCO2eq/kWh), or in a data centre of PUE 1.10 on Sweden's grid (41 gCO2eq/kWh): how many "
               "times more CO2eq does the first emit?",
        "answer": 12.93,
        "tolerance": 0.02,
        "why": "CO2eq = energy × PUE × grid intensity, so the energy cancels: (1.58 × 369) / (1.10 × 41) = "
               "583.0 / 45.1 ≈ 12.9. Region and building multiply.",
        "see": "5. Where and in which building: grid carbon intensity and PUE",
    },
    {
        "ask": "With the chapter's calculator: a 1e9-parameter model trained on 2e10 tokens, C ≈ 6·N·D, on A100s "
               "(312 TFLOP/s peak, 400 W) at 30 % of peak, in a data centre of PUE 1.1. How many kWh?",
        "answer": 156.7,
        "tolerance": 0.03,
        "why": "C = 6 × 1e9 × 2e10 = 1.2e20 FLOPs; at 0.3 × 312e12 = 9.36e13 FLOP/s that is 1.28e6 s ≈ 356 A100-hours; "
               "356.1 h × 0.4 kW × 1.1 ≈ 156.7 kWh (energy = hours × TDP × PUE, as `footprint.estimate` does).",
        "see": "6. The training-cost calculator, checked against published figures",
    },
    {
        "ask": "The calculator assumes 30 % of the accelerators' peak. A run that really achieved 20 % of peak on the "
               "same hardware, its chips drawing about their TDP throughout as the calculator assumes: how does the "
               "calculator's energy estimate compare with what the run drew?",
        "options": [
            "About right: utilization changes the time a run takes, not its energy.",
            "Too high, by about 1.5x: a less busy chip draws less power.",
            "Too low by about 10x, since utilization enters both the hours and the power, squared.",
            "Too low: the run needed about 30/20 = 1.5x the estimated hours, hence the energy.",
        ],
        "answer": "d",
        "why": "Hours = 6·N·D ÷ (peak × utilization) and energy = hours × TDP × PUE: at 20 % instead of 30 % the real "
               "hours, and so the energy, are 1.5x the estimate. That is GPT-3's case: its V100s reached about 20 %, "
               "and the estimate came out below the published energy.",
        "see": "6. The training-cost calculator, checked against published figures",
    },
    {
        "ask": "On one 2-core machine you run the same job as 2 processes × 1 thread under torchrun (DDP) instead of "
               "1 process × 2 threads. What changes?",
        "options": [
            "Each process does half of the FLOPs on its own core, so the whole job takes about half the energy.",
            "Each process trains its own copy of the model on its own data, and the better of the two is kept.",
            "The same steps and FLOPs, plus a second process's start-up and an all-reduce every step.",
            "The global batch doubles, one per process, so the model reaches the same loss in half the steps.",
        ],
        "answer": "c",
        "why": "Each rank takes batch_size / N rows of the same global batch, the gradients are averaged by an "
               "all-reduce, and every rank takes the same optimizer step: the last losses agree. On one machine the "
               "same cores do the same FLOPs; data parallelism pays when each rank brings hardware of its own.",
        "see": "7. Scaling out: one training loop, many processes",
    },
]
