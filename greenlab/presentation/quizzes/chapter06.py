"""Self-check quiz of chapter 06 (notebooks/06_encoder_decoder.ipynb): cross-attention, BLEU, beam search, and
encoder-decoder against decoder-only."""

QUESTIONS = [
    {
        "ask": "The translator greedily writes a 53-character translation of a 6-digit source. How often must each "
               "decoder layer compute the cross-attention keys and values of the source?",
        "options": [
            "53 times, once per decoding step, because the decoder's queries change at every step",
            "Once for the source, then reused at every decoding step",
            "Once per step, over the source and the target written so far",
            "Never: the decoder reuses the keys and values of the encoder's own self-attention",
        ],
        "answer": "b",
        "why": "Cross-attention's keys and values are made from the encoder's states, which depend on the source "
               "alone, so a translator computes them once per source (`SourceMemory`) and reuses them at every "
               "step; only the decoder's own self-attention keys and values grow, one token per step, in its cache.",
        "see": "1. Cross-attention from first principles",
    },
    {
        "ask": "The translator has 4 heads. For one pair with a 6-token source (no padding) and 53 decoder "
               "positions, how many cross-attention weights does one decoder layer compute?",
        "answer": 1272,
        "tolerance": 0.001,
        "why": "Cross-attention's weights form a T x S table per head (queries from the target, keys from the "
               "source): 4 x 53 x 6 = 1,272. They grow with target length times source length, not with the square "
               "of one sequence as self-attention's T x T table does.",
        "see": "1. Cross-attention from first principles",
    },
    {
        "ask": "The reference is 'nine hundred ninety-nine thousand one' (5 tokens). The output is 'eight hundred "
               "ninety-nine thousand one': only its first word is wrong. What is its sentence BLEU (0-100) "
               "without smoothing?",
        "answer": 66.87,
        "tolerance": 0.01,
        "why": "Clipped precisions: 1-grams 4/5, 2-grams 3/4, 3-grams 2/3, 4-grams 1/2; both have 5 tokens, so no "
               "brevity penalty. BLEU = 100 x (4/5 x 3/4 x 2/3 x 1/2)^(1/4) = 100 x 0.2^(1/4) = 66.9. The chapter's "
               "near-miss, wrong in the middle word, scores 0: a wrong word breaks every n-gram that spans it, and "
               "from the middle it spans both 4-grams.",
        "see": "4. BLEU, step by step",
    },
    {
        "ask": "A test set's references are all 3 tokens long (such as 'six hundred one'), and a translator gets "
               "every one exactly right. What are its corpus BLEU and its exact match?",
        "options": [
            "BLEU 100 and exact match 100",
            "BLEU about 75 (3 of the 4 orders perfect) and exact match 100",
            "BLEU 0 and exact match 100",
            "BLEU 0 and exact match 0",
        ],
        "answer": "c",
        "why": "BLEU's geometric mean includes the 4-gram precision, and 3-token outputs have no 4-grams at all, so "
               "corpus BLEU is 0 however right they are (the chapter shows it for two-token outputs); exact match "
               "counts whole outputs identical to their reference: 100.",
        "see": "4. BLEU, step by step",
    },
    {
        "ask": "You switch the trained translator from greedy decoding to beam search of width 4. What changes?",
        "options": [
            "The outputs, BLEU and the cost can change; the perplexity cannot",
            "The validation perplexity drops, since beam search finds outputs the model finds likelier",
            "Nothing measurable: the weights did not change, so both perplexity and BLEU stay where they were",
            "BLEU can only go up, since beam search always keeps the greedy output among its k hypotheses",
        ],
        "answer": "a",
        "why": "Perplexity is read with teacher forcing from the model's probabilities of the right answer, so it "
               "cannot see decoding: greedy and beam search share one. Beam search decodes k rows per source, so "
               "it costs more, and it can fix a wrong greedy output or trade a right one for a wrong one with a "
               "higher total log-probability.",
        "see": "8. Perplexity or BLEU: which one, when",
    },
    {
        "ask": "At about equal parameters, the decoder-only translator (4 layers) does about twice the FLOPs per "
               "target token of the encoder-decoder (2 encoder + 2 decoder layers) on the numbers task. With "
               "500-token sources and 50-token targets, the ratio would be...",
        "options": [
            "about 10, because the decoder-only model must reread the whole long source at every step",
            "about 1, because with a long source the encoder's work dominates the cost of both models",
            "about 0.5, because the decoder-only model has no cross-attention to pay for",
            "about 2, a little more: every token goes through 4 layers, not 2",
        ],
        "answer": "d",
        "why": "The cost follows the depth each token goes through: in the encoder-decoder a source token passes the "
               "2 encoder layers and a target token the 2 decoder layers, while the decoder-only model runs all 4 "
               "layers on every token. The chapter applies the FLOP formulas to other splits of the lengths and "
               "finds about twice each time, a little more for long sequences, where attention's products weigh more.",
        "see": "7. Encoder–decoder or decoder-only, at about equal parameters",
    },
]
