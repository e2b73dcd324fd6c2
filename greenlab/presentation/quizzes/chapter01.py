"""Self-check quiz of chapter 01 (notebooks/01_tokenization.ipynb): cleaning, three tokenizers, BPE, tokens as cost."""

QUESTIONS = [
    {
        "ask": "Stop words are almost half of the corpus's words. A classmate proposes deleting them to nearly halve "
               "the tokens, and with them the training energy. What does the chapter show?",
        "options": [
            "It works: the BPE token count falls by almost half, and the content words keep all of the meaning.",
            "Nothing is saved: BPE merges every stop word into the word after it, so the token count stays put.",
            "The text gets longer in tokens, since the content words left behind split into more pieces.",
            "Tokens fall by only about a quarter, and 'is not executed' turns into 'executed'.",
        ],
        "answer": "d",
        "why": "Stop words are short and frequent, often one BPE token each, so removing them cuts the validation "
               "text's tokens by about a quarter, far from half. And a language model must predict them: removing "
               "them deletes every negation, so 'is not executed' silently becomes 'executed'.",
        "see": "1. The corpus, and cleaning it",
    },
    {
        "ask": "On the held-out text the word tokenizer needs fewer tokens than BPE 4096. Why does the course still "
               "build its models on byte-level BPE?",
        "options": [
            "Unseen words become `<unk>` and spacing is lost: the text cannot be rebuilt.",
            "The word vocabulary is the larger one, so its output layer would cost more FLOPs per token.",
            "Word tokens are longer strings, so attention would cost more per token than with BPE.",
            "BPE needs fewer tokens than words as soon as the text is longer than the training text.",
        ],
        "answer": "a",
        "why": "The comparison table shows the word tokenizer with unknown tokens and no exact round trip. BPE "
               "starts from the 256 bytes of UTF-8, so any text encodes without an unknown token and decodes "
               "back exactly, at a cost of only somewhat more tokens than words.",
        "see": "2. Three ways to cut text into tokens",
    },
    {
        "ask": "The sample sentence contains `👍`, which never occurs in the training corpus. What do the character, "
               "word and BPE 4096 tokenizers make of it?",
        "options": [
            "All three give `<unk>`: no tokenizer can encode what it never saw in training.",
            "The character tokenizer keeps it as one token; the word and BPE tokenizers give `<unk>`.",
            "Characters and words give `<unk>`; BPE keeps its 4 UTF-8 bytes, exactly reversible.",
            "BPE learns a new merge for it while encoding, so it becomes a single new token.",
        ],
        "answer": "c",
        "why": "The character and word vocabularies are built from the training text, so both print `<unk>` for "
               "it. Byte-level BPE holds all 256 byte values, so an unseen character stays as its bytes (4 for "
               "this emoji, shown as �) and the text still round-trips exactly.",
        "see": "2. Three ways to cut text into tokens",
    },
    {
        "ask": "Byte-level BPE starts from the 256 byte values, and the tokenizer also reserves one special token, "
               "`<|endoftext|>`. How many merges must training learn to reach a vocabulary of 4,096 tokens?",
        "answer": 3839,
        "tolerance": 0.0,
        "why": "Each merge adds exactly one token to the vocabulary: 4,096 − 256 bytes − 1 special token = 3,839 "
               "merges, the count the trained tokenizer prints. The first merge gets id 256, right after the bytes.",
        "see": "2. Three ways to cut text into tokens",
    },
    {
        "ask": "Through the same small model, BPE 4096 reads the same text in about 4 times fewer tokens than "
               "characters, yet its training takes only about 2 times fewer FLOPs. Why is the FLOPs saving smaller?",
        "options": [
            "BPE tokens are longer strings, so each of them takes more arithmetic inside attention.",
            "Each token meets a 4,096-way output layer, not a ~100-way one: more FLOPs per token.",
            "The FLOP counter also counts the BPE encoding, which the character model does not need.",
            "With fewer tokens, the model trains for more epochs to see the same amount of text.",
        ],
        "answer": "b",
        "why": "The number of tokens sets the number of steps, but the vocabulary sets the size of the output "
               "layer, so a 4,096-token vocabulary makes every token dearer than a ~100-character one. "
               "That trade-off is why models with billions of parameters use vocabularies of tens of thousands, "
               "where the output layer is a small share of the model.",
        "see": "5. Fewer tokens, less energy",
    },
]
