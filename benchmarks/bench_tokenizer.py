"""greenlab's BPE against Hugging Face `tokenizers`, on the default corpus, in one run.

Trains both (same text, same vocabulary size, same special token), encodes the whole corpus with both (a freshly
built tokenizer each time, so that our encoding cache starts cold), interleaved over several rounds after one
warm-up call each, and prints median times, the ratios, and how often the two agree. Then one
long chunk (one run of text without spaces, as minified code or a long number gives) of growing length, made
of the same 25,000 bytes repeated: the heap-based encoder costs n log n, so its time per byte grows slowly (the
log n), where the plain merge loop's grows with n (8x over these lengths).
Machines are noisy: read the ratios, not the seconds.

    python benchmarks/bench_tokenizer.py [--vocab-size 4096] [--rounds 3]
"""

from __future__ import annotations

import argparse

from greenlab.foundations.data import load_corpus
from greenlab.measurement.timing import median_seconds
from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.foundations.tokenizer.bpe import encode_bytes
from greenlab.foundations.tokenizer.huggingface import token_agreement, train_hf_bpe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    corpus = load_corpus()
    text = corpus.train_text + "\n\n" + corpus.validation_text
    ours = BPETokenizer.train(corpus.train_text, args.vocab_size)
    library = train_hf_bpe(corpus.train_text, args.vocab_size)
    our_ids, hf_ids = ours.encode(text), library.encode(text).ids
    median = median_seconds({
        "train greenlab": lambda: BPETokenizer.train(corpus.train_text, args.vocab_size),
        "train HF": lambda: train_hf_bpe(corpus.train_text, args.vocab_size),
        "encode greenlab": lambda: BPETokenizer(ours.merges, ours.special_tokens).encode(text),  # cold cache
        "encode HF": lambda: library.encode(text).ids}, args.rounds)
    print(f"corpus: {len(corpus.train_text):,} training chars; encoding {len(text):,} chars "
          f"({len(our_ids):,} tokens); vocabulary {args.vocab_size}; median of {args.rounds} rounds")
    print(f"{'':<18}{'greenlab (s)':>14}{'HF (s)':>10}{'greenlab / HF':>16}")
    for task in ("train", "encode"):
        ours_s, hf_s = median[f"{task} greenlab"], median[f"{task} HF"]
        print(f"{task:<18}{ours_s:>14.3f}{hf_s:>10.3f}{ours_s / hf_s:>15.1f}x")
    print(f"encode throughput: greenlab {len(text) / median['encode greenlab'] / 1e6:.2f} M chars/s, "
          f"HF {len(text) / median['encode HF'] / 1e6:.2f} M chars/s")
    same, total = token_agreement(ours, our_ids, library, hf_ids), max(len(our_ids), len(hf_ids))
    print(f"agreement: {same:,} of {total:,} tokens identical ({same / total:.2%}); "
          f"identical sequences: {same == len(our_ids) == len(hf_ids)}")
    print("one long chunk (median of the rounds):")
    per_char, sample = {}, corpus.train_text.replace(" ", "")[:25_000]
    for length in (25_000, 50_000, 100_000, 200_000):
        chunk = (sample * (length // len(sample)))[:length].encode()
        seconds = median_seconds({"encode": lambda: encode_bytes(chunk, ours.merge_table, ours.ranks)},
                                 args.rounds)["encode"]
        per_char[length] = seconds / length
        print(f"  {length:>8,} bytes  {seconds:>7.3f} s  {per_char[length] * 1e6:>6.2f} µs per byte")
    growth = per_char[200_000] / per_char[25_000]
    verdict = "n log n" if growth < 2 else "growing faster than n log n"
    print(f"  time per byte at 200,000 / at 25,000: {growth:.2f}x ({verdict})")


if __name__ == "__main__":
    main()
