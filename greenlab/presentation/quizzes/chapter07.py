"""Self-check quiz of chapter 07 (notebooks/07_applications.ipynb): retrieval against generation, baselines,
sampling costs, running generated code safely, and pass@k."""

QUESTIONS = [
    {
        "ask": "The reference GPT has a context of 128 tokens and writes 32 new tokens. For 'BM25 passage, then GPT', "
               "the passage followed by the question makes a prompt of 150 tokens. What does the GPT read?",
        "options": [
            "The first 96 tokens: the passage from its start, with the question cut off",
            "All 150 tokens: the context slides forward as it writes",
            "The question alone: a passage that does not fit is dropped whole",
            "The last 96 tokens: the end of the passage and the whole question",
        ],
        "answer": "d",
        "why": "`fit_prompt` keeps the last 128 - 32 = 96 tokens, so that the prompt and the 32 new tokens fit the "
               "context together: the question, at the end, is never cut, but the start of the passage is lost.",
        "see": "Three ways to reply",
    },
    {
        "ask": "The help desk's 'answer words' score credits each word of the answer phrase found anywhere in a "
               "reply. Why does the chapter also score the question itself, replied back unchanged?",
        "options": [
            "Repeating the question already earns answer words: the echo is the floor a method must beat",
            "It measures the energy of a reply that does no work, to subtract from every method's energy",
            "It checks that no answer phrase appears in its question, so that no method can simply copy it",
            "It is the upper bound: no reply can hold more of the answer than the question that asked for it",
        ],
        "answer": "a",
        "why": "'Answer words' gives partial credit and also flatters a reply that merely repeats common words, so "
               "the question replied back is its floor: a method whose answer words are not above the question's "
               "own has bought nothing with its energy.",
        "see": "5. The cheapest tool that does the job",
    },
    {
        "ask": "On the course's tiny GPT, top-p sampling costs measurably more per token than greedy decoding. For a "
               "model of billions of parameters writing completions of the same length, switching from greedy to "
               "top-p sampling would...",
        "options": [
            "raise the energy by about the same share as on the tiny model, since it sorts a vocabulary as large",
            "change the energy per completion very little: the forward pass dwarfs the sampling step",
            "lower the energy, since sampling only considers the few likeliest tokens",
            "double the energy, since sampling needs a second forward pass per token",
        ],
        "answer": "b",
        "why": "Every setting adds work after the forward pass (top-p: a sort of the vocabulary and a cumulative "
               "sum). Beside a forward pass through billions of parameters that work is negligible; it shows on the "
               "course's GPT only because its forward pass is so short. Tokens written times work per token set "
               "the bill.",
        "see": "2. A writing assistant",
    },
    {
        "ask": "The course runs a generated function and its unit tests with `run_candidate`. Which of these does "
               "the sandbox NOT promise?",
        "options": [
            "A body that loops forever is ended after the timeout, and reported as a timeout",
            "A body that tries to write a file is stopped by the kernel before the file changes",
            "A program set on forging its own verdict from inside its process is caught",
            "A program that prints 'passed' to its output is not counted as passing its tests",
        ],
        "answer": "c",
        "why": "The seccomp filter blocks file changes, new processes and sockets, a timeout ends a loop, and the "
               "verdict comes back on a pipe of its own, so printing cannot pass. But a program set on forging its "
               "verdict from inside its own process still can: pass@k counts cooperative programs.",
        "see": "Running generated code, safely",
    },
    {
        "ask": "For one problem the model samples n = 10 bodies, and c = 2 of them pass the tests. What is pass@5 "
               "for this problem, 1 - C(n-c, k) / C(n, k), as a number between 0 and 1?",
        "answer": 0.7778,
        "tolerance": 0.01,
        "why": "Of the C(10, 5) = 252 ways to draw 5 of the 10 bodies, C(8, 5) = 56 hold no passing body: pass@5 = "
               "1 - 56/252 = 7/9 = 0.78. For the same problem pass@1 is only c/n = 0.2: more draws, more chances "
               "that one passes (and more samples to pay for).",
        "see": "pass@k on the course's problems",
    },
    {
        "ask": "You set our GPT's measured energy per 1,000 queries, on this machine's CPU, beside the published "
               "mean for text generation (Luccioni et al., 2024). What can the comparison show?",
        "options": [
            "That generation on a laptop CPU is greener per query than on data-centre GPUs",
            "Only scale: the models, the hardware and the measuring set-ups differ",
            "Which of the two is the more efficient model per query, since both count 1,000 queries",
            "How much CodeCarbon over-estimates GPU energy compared with its CPU estimate",
        ],
        "answer": "b",
        "why": "The published models are far larger and ran on NVIDIA A100 GPUs with another measuring set-up; ours "
               "is a small GPT on a CPU with estimated energy. The distance between the rows shows scale, not a "
               "winner: a method's energy compares only with a figure measured the same way.",
        "see": "Beside a published figure",
    },
]
