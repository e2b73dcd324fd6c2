"""Self-check quiz of chapter 02 (notebooks/02_transformer.ipynb): attention, a GPT's cost, bits/char, KV cache."""

QUESTIONS = [
    {
        "ask": "Attention divides the scores q·k by √width. What goes wrong without that division when the heads are "
               "wide, say of width 1,024?",
        "options": [
            "Nothing: the softmax makes the weights sum to 1 whatever the scale of the scores.",
            "Scores spread like √width, so the softmax turns nearly one-hot and its gradient vanishes.",
            "Scores shrink towards 0 as the width grows, so every token attends evenly to all the others.",
            "The causal mask stops working, because −∞ no longer dominates scores that large.",
        ],
        "answer": "b",
        "why": "The dot product of two random vectors of width d has a standard deviation of about √d, i.e. about 32 "
               "at width 1,024. Scores that large push the softmax to nearly one-hot, where its gradient vanishes; "
               "dividing by √d brings their spread back near 1.",
        "see": "1. Attention from first principles",
    },
    {
        "ask": "Take attention with no causal mask and no position embeddings, and feed it the same tokens in a "
               "shuffled order. What comes out?",
        "options": [
            "The outputs of the original order: attention sorts the tokens back by their keys.",
            "Entirely different outputs, since each token now has different neighbours to attend to.",
            "One vector repeated, since without positions all tokens get the same average.",
            "The same outputs, shuffled the same way: attention alone cannot see the order.",
        ],
        "answer": "d",
        "why": "Each output is a weighted average of all values, with weights from how well queries fit keys, and "
               "none of that depends on where a token stands: the chapter checks that shuffling the input only "
               "shuffles the output. That is why GPT adds a learned position embedding to every token embedding.",
        "see": "2. Positions",
    },
    {
        "ask": "`flops_per_token` counts 2 FLOPs per weight of every linear layer plus 4 · context · width per layer "
               "for attention's two products. The reference GPT (4 layers, width 128) has 2,883,584 forward FLOPs "
               "per token at context 128. How many forward FLOPs per token at context 256, with the same linear "
               "layers (the position table grows, but a lookup costs no FLOPs)?",
        "answer": 3_145_728,
        "tolerance": 0.01,
        "why": "Attention at context 128: 4 × 4 layers × 128 × 128 = 262,144, so the linear layers cost "
               "2,883,584 − 262,144 = 2,621,440. At context 256 attention doubles to 524,288 and the linear part "
               "stays: 3,145,728 per token, only 9 % more than at context 128.",
        "see": "3. The block and the model",
    },
    {
        "ask": "The reference GPT costs 2,883,584 forward FLOPs per token and training costs about 3 times the forward "
               "pass. It trains for 700 steps of 16 sequences of 128 tokens. How many FLOPs does its training take, "
               "leaving out the evaluations?",
        "answer": 1.24017e13,
        "tolerance": 0.02,
        "why": "700 × 16 × 128 = 1,433,600 tokens, each costing 3 × 2,883,584 = 8,650,752 FLOPs: about "
               "1.24·10^13 FLOPs. 6·N·D with N = 1,334,016 parameters gives a little less (1.15·10^13), mainly "
               "because it leaves out attention's two products.",
        "see": "5. Training the reference model",
    },
    {
        "ask": "Model A's tokenizer averages 2 characters per token, model B's 4. Both reach the same bits per "
               "character on the same held-out text. How do their validation losses per token compare?",
        "options": [
            "B's is twice A's: at equal bits per character, loss grows with characters per token.",
            "They are equal: the same bits per character always means the same loss per token and perplexity.",
            "B's is half of A's: longer tokens are rarer, so each one is easier for the model to predict.",
            "B's is lower by ln 2, the factor that converts nats into bits.",
        ],
        "answer": "a",
        "why": "bits/char = loss / ln 2 × tokens / characters, so at equal bits per character the loss per token is "
               "proportional to the characters per token: twice as many for B, twice the loss. Loss and perplexity "
               "per token depend on the tokenizer; bits per character compare across tokenizers.",
        "see": "6. How good is it? Perplexity and bits per character",
    },
    {
        "ask": "Generating 80 tokens greedily with the key/value cache instead of without it: what changes?",
        "options": [
            "The text changes slightly, since cached keys and values approximate freshly computed ones.",
            "Each new token attends only to a window of recent tokens, which is where the saving comes from.",
            "The same tokens come out for fewer FLOPs: earlier keys and values are not recomputed.",
            "Only memory traffic: the cache keeps the weights close so that they need not be reloaded.",
        ],
        "answer": "c",
        "why": "Without the cache every step recomputes the keys and values of all earlier tokens; with it each "
               "token's keys and values are computed once and kept. The chapter asserts that both ways give the "
               "same 80 tokens, and the cached one generates faster.",
        "see": "7. Generating text",
    },
]
