"""Self-check quiz of chapter 08 (notebooks/08_responsible_ai.ipynb): bias in and out and its mitigation,
memorised canaries and deduplication, and confident errors."""

QUESTIONS = [
    {
        "ask": "A small GPT trained with sentences of skew 0.9 shows a large gap on sentences of the templates it was "
               "trained on, and a much smaller one on held-out templates. What does this say?",
        "options": [
            "The held-out probe is broken, since a model's bias must be the same on every sentence",
            "The model has no bias worth reporting, since only the held-out gap should count",
            "A skew in the data only matters for large models; a two-layer model cannot learn it",
            "It learned the pronoun each seen occupation had, more than a notion that transfers",
        ],
        "answer": "d",
        "why": "On seen templates the gap follows the skew, each step well outside the intervals; on held-out ones it "
               "is much smaller. A two-layer model trained for seconds learns the pairs it saw; how much a bigger "
               "model would carry over is not measured, and a gap near 0 on some templates does not make a model fair.",
        "see": "1. Bias in, bias out",
    },
    {
        "ask": "The skewed set writes each of 40 occupations into each of 10 training templates 10 times, "
               "round(skew x 10) of them with the stereotyped pronoun. Rebalancing keeps, per occupation, only as "
               "many sentences of its more frequent pronoun as it has of the other. How many sentences does "
               "rebalancing keep at skew 0.7?",
        "answer": 2400,
        "tolerance": 0.001,
        "why": "Per occupation: 10 templates x 7 = 70 stereotyped and 10 x 3 = 30 other sentences; keeping 30 of "
               "each leaves 60, and 40 x 60 = 2,400 of the 4,000. At skew 0.9 the rule leaves 40 x 20 = 800: "
               "rebalancing throws sentences away, where counterfactual augmentation doubles them.",
        "see": "1. Bias in, bias out",
    },
    {
        "ask": "Every probe model trains for the same 300 steps. Compared with training on the skewed set, what does "
               "training on its counterfactually augmented version (twice the people sentences) cost?",
        "options": [
            "About twice the training energy, since the model has twice the people sentences to read",
            "Less energy, since balanced data lets the loss fall to the same value in fewer steps",
            "About the same energy; each people sentence is drawn less often",
            "About the same energy, with each people sentence drawn just as often as before",
        ],
        "answer": "c",
        "why": "At a fixed budget of steps of the same model, the training energy is the same within the tracker's "
               "noise; the doubled sentences are each drawn less often (a little more than half as often, since the "
               "documentation they are mixed with does not double). With a fixed number of epochs, augmentation "
               "would double the cost of that part of the data.",
        "see": "1. Bias in, bias out",
    },
    {
        "ask": "A canary's true code is ranked with 999 random six-digit codes by the model's likelihood and comes "
               "125th. What is its exposure, log2(1000) - log2(rank), in bits?",
        "answer": 3,
        "tolerance": 0.01,
        "why": "log2(1000) - log2(125) = log2(1000 / 125) = log2(8) = 3 bits: above the 1 bit of a code at the "
               "median rank (500th), well below the about 10 bits of a secret ranked first.",
        "see": "2. Memorisation and privacy: canaries",
    },
    {
        "ask": "Canaries are planted 1, 4, 16 or 64 times; deduplication then keeps each document once. What does "
               "the chapter conclude about deduplication?",
        "options": [
            "It is a privacy guarantee: a secret that appears only once in the data is never memorised",
            "It removes the repetition memorisation feeds on, but is no guarantee",
            "It only helps secrets planted many times; those planted once are unchanged, as both models saw them "
            "once",
            "It raises exposure, since each remaining copy weighs more in a smaller data set",
        ],
        "answer": "b",
        "why": "After deduplication no secret was extracted and the mean exposure was lower at every repeat count, "
               "those planted once included (a secret's exposure depends on the rest of the data too). Yet a secret "
               "written once can still be memorised, more so by a bigger model: differential privacy and scrubbing "
               "secrets before training are what guard against that.",
        "see": "2. Memorisation and privacy: canaries",
    },
    {
        "ask": "Suppose the reference GPT were perfectly calibrated: of the tokens it gives a probability of about "
               "0.8, about 80 % are right. What follows for its users?",
        "options": [
            "About one in five of those sure tokens is still wrong: point users to sources",
            "Its confident tokens can be trusted, since calibration removes confident errors",
            "Every reply it writes is right at least 80 % of the time, whatever the question",
            "Nothing: confident errors only happen on text a model never saw during its training",
        ],
        "answer": "a",
        "why": "Calibration means the confidence matches how often the model is right; either way a share of its "
               "confident tokens are wrong, and a continuation built of them is a fluent, sure, false statement. "
               "The chapter measures this on the model's own training text; the remedy is outside the model: quote "
               "the documentation, and say so in the card.",
        "see": "3. Confident and wrong",
    },
]
