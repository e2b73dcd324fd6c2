"""Self-check quiz of chapter 00 (notebooks/00_green_ai_intro.ipynb): FLOPs and energy, estimates, grids, 6·N·D."""

QUESTIONS = [
    {
        "ask": "Section 2 computes `X @ Y.T` for X and Y of shape 2,000 × 256, 60 times over. PyTorch's FLOP counter "
               "counts 2 FLOPs (a multiply and an add) per term of each dot product. How many FLOPs do the 60 "
               "repeats of the single float32 product count in total?",
        "answer": 122_880_000_000,
        "tolerance": 0.01,
        "why": "The result holds 2,000 × 2,000 dot products of 256 terms: 2 × 2,000 × 2,000 × 256 = 2.048·10^9 FLOPs "
               "per product, × 60 = 1.2288·10^11. The row-by-row loop and the float64 product count exactly as "
               "many, since they do the same arithmetic.",
        "see": "2. The same computation, three ways",
    },
    {
        "ask": "The row-by-row loop, the float64 product and the float32 product count the same FLOPs, yet the loop "
               "costs several times the energy of the float32 product. What explains the gap?",
        "options": [
            "The loop does hidden arithmetic (indexing, concatenating) that the FLOP counter cannot see.",
            "Energy is set by the FLOPs, so the gap is measurement noise that more repeats would remove.",
            "Same arithmetic, run worse: Python overhead per row, pieces too small to parallelise.",
            "The loop computes each dot product twice, once per row and once per column, but counts it once.",
        ],
        "answer": "c",
        "why": "A FLOP count says how much arithmetic is asked for, not how efficiently the machine does it: the "
               "loop pays Python's overhead 2,000 times and hands the CPU tiny pieces it cannot parallelise, and "
               "float64 moves twice the bytes at half the vector width. So count FLOPs and also measure time "
               "and energy.",
        "see": "2. The same computation, three ways",
    },
    {
        "ask": "On a virtual machine without RAPL, codecarbon estimates the CPU's energy as TDP × CPU load. Which "
               "use of such figures is sound?",
        "options": [
            "Comparing variants measured side by side here: the estimate tracks CPU time.",
            "Quoting the joules as the chip's true draw, since the TDP comes from a table of real processors.",
            "Adding nothing for the data centre, since the estimate already includes cooling (the PUE).",
            "None at all: without a hardware counter the figures cannot even rank variants of one computation.",
        ],
        "answer": "a",
        "why": "An estimate from TDP × load follows the CPU time, so ratios between variants measured on one "
               "machine are meaningful, while the absolute joules are only as good as the TDP figure. No tracker "
               "sees the data centre's cooling (PUE), the power supply's losses or the hardware's manufacture.",
        "see": "3. What codecarbon can and cannot see",
    },
    {
        "ask": "You move one training run, on the same hardware and with the same PUE, from a data centre in India "
               "to one in Sweden. What changes?",
        "options": [
            "Nothing: the FLOPs are the same, so the energy and the emissions are the same.",
            "Both the energy and the CO2eq fall over 15-fold, because low-carbon power is cheaper to draw.",
            "The energy falls, because in a cold climate the chips themselves draw less power.",
            "The energy stays the same; the CO2eq is divided by more than 15, set by the grid's intensity.",
        ],
        "answer": "d",
        "why": "CO2eq = energy × grid carbon intensity. The code and the hardware set the kilowatt-hours; "
               "codecarbon's data give India's grid over 15 times the gCO2eq per kWh of Sweden's, so where we "
               "compute changes the carbon, not the energy.",
        "see": "3. What codecarbon can and cannot see",
    },
    {
        "ask": "GPT-3 was trained for 3,552,000 V100-hours at an average of 330 W, in data centres of PUE 1.1, on a "
               "grid of 429 gCO2eq/kWh. With the chapter's formulas, how many tonnes of CO2eq is that?",
        "answer": 553.1,
        "tolerance": 0.02,
        "why": "Energy = hours × power × PUE = 3,552,000 h × 0.33 kW × 1.1 = 1,289,376 kWh (about 1,289 MWh); "
               "CO2eq = 1,289,376 kWh × 429 g/kWh ≈ 553,000 kg = 553 t, within 1 % of the published 552 t.",
        "see": "4. Back of the envelope: what did the large models cost?",
    },
    {
        "ask": "GPT-3's 3.14·10^23 FLOPs over 3,552,000 V100-hours mean about 24.6 TFLOP/s per GPU, while a V100 "
               "is advertised at 125 TFLOP/s. Had you estimated the GPU-hours from the advertised peak, your energy "
               "estimate would have been…",
        "options": [
            "about right: large training runs keep their accelerators at the advertised peak.",
            "about five times too low: real training keeps the GPUs far below their peak.",
            "about five times too high: the advertised peak counts only half of the operations.",
            "unchanged: the energy follows the FLOPs alone, whatever the hours they take.",
        ],
        "answer": "b",
        "why": "Accelerator-hours = C / achieved FLOP/s, and energy = hours × power × PUE. Assuming 125 instead of "
               "about 24.6 TFLOP/s makes the hours, and with them the energy, about 125 / 24.6 ≈ 5 times too "
               "small: real training rarely keeps accelerators busy.",
        "see": "4. Back of the envelope: what did the large models cost?",
    },
]
