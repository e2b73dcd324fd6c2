import copy
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from greenlab.foundations import settings
from greenlab.measurement import ledger
from greenlab.foundations.tasks import PairVocabulary, Pairs
from greenlab.models.gpt import GPT, GPTConfig
from greenlab.models.seq2seq import EncoderDecoder, Seq2SeqConfig, until_eos
from greenlab.training.train import TrainConfig
from greenlab.training.translate import (DecoderOnlyTranslator, scores, train_translator, translate,
                                         validation_loss)

PAIRS = Pairs(["ab", "ba", "aa", "bb"], ["xy", "yx", "xx", "yy"])  # every source 2 tokens, every target 2 (+ 1)
TINY_TRAINING = TrainConfig(steps=150, batch_size=8, learning_rate=1e-2, min_learning_rate=1e-3, warmup_steps=10,
                            eval_interval=50, eval_batches=1)  # enough for a tiny model to learn PAIRS by heart


@pytest.fixture
def one_thread():
    with settings.one_thread():  # seconds, whatever the other core is doing
        yield


def tiny_model(vocabulary: PairVocabulary) -> EncoderDecoder:
    torch.manual_seed(0)
    return EncoderDecoder(Seq2SeqConfig(vocab_size=vocabulary.vocab_size, d_model=32, n_head=2, n_encoder_layer=1,
                                        n_decoder_layer=1, d_ff=64, max_source_len=8, max_target_len=8,
                                        dropout=0.0))


def test_a_trained_translator_reproduces_its_pairs_and_its_run_is_measured(cache, one_thread):
    vocabulary = PairVocabulary(PAIRS)
    model = tiny_model(vocabulary)
    result = train_translator(model, vocabulary, PAIRS, PAIRS, TINY_TRAINING, label="tiny translator",
                              progress=False)
    assert [v["step"] for v in result.validation] == [50, 100, 150]
    assert result.final_val_loss < 0.05 < result.train_losses[0]
    for beam_width in (1, 3):
        assert translate(model, vocabulary, PAIRS.sources, beam_width=beam_width) == PAIRS.targets
    # every batch is 8 pairs of 2 source tokens and 3 decoder positions: the FLOPs are the formula's, 150 times
    per_step = model.flops_per_token(2, 3, training=True) * 3 * 8
    assert result.measurement.flops == pytest.approx(150 * per_step)
    row = ledger.load().iloc[-1]
    assert row["label"] == "tiny translator" and row["flops"] == pytest.approx(150 * per_step)


def test_scores_of_translations():
    references = ["four hundred eighty-nine thousand one hundred forty", "one hundred ten"]
    assert scores(references, references) == {"BLEU": pytest.approx(100), "chrF": pytest.approx(100),
                                              "exact match": 100.0}
    assert scores([references[0], "one hundred eleven"], references)["exact match"] == 50.0
    # one-word outputs have no 4-grams: corpus BLEU is 0 however right they are (sacrebleu agrees)
    assert scores(PAIRS.targets, PAIRS.targets)["BLEU"] == 0.0


def test_a_source_longer_than_the_context_is_named(one_thread):
    vocabulary = PairVocabulary(PAIRS)
    with pytest.raises(ValueError, match="max_source_len"):
        translate(tiny_model(vocabulary), vocabulary, ["ab" * 10])


def tiny_decoder_only(vocabulary: PairVocabulary, source_len: int = 3) -> DecoderOnlyTranslator:
    torch.manual_seed(0)
    return DecoderOnlyTranslator(GPT(GPTConfig(vocab_size=vocabulary.vocab_size, block_size=source_len + 8,
                                               n_layer=1, n_head=2, n_embd=32)), source_len)


def test_the_decoder_only_translator_reads_the_source_left_padded_then_the_target():
    vocabulary = PairVocabulary(PAIRS)
    model = tiny_decoder_only(vocabulary).eval()
    src, decoder_input, _ = vocabulary.batch(["a", "ab"], ["x", "xy"])
    a, b, x, y = (vocabulary.stoi[ch] for ch in "abxy")
    P, S = vocabulary.pad_id, vocabulary.bos_id
    assert model.prompt(src).tolist() == [[P, P, a], [P, a, b]]
    sequences = torch.tensor([[P, P, a, S, x, P], [P, a, b, S, x, y]])
    assert torch.equal(model(src, decoder_input), model.gpt(sequences)[:, 3:])
    # FLOPs: the GPT's for the whole sequence (source_len + T tokens), shared among the T target tokens
    assert model.flops_per_token(2, 3) * 3 == model.gpt.flops_per_token(6) * 6


def test_the_decoder_only_translator_learns_pairs_and_decodes_as_gpt_generate(cache, one_thread):
    vocabulary = PairVocabulary(PAIRS)
    model = tiny_decoder_only(vocabulary)
    result = train_translator(model, vocabulary, PAIRS, PAIRS, TINY_TRAINING, label="tiny decoder-only",
                              progress=False)
    assert result.measurement.flops == pytest.approx(150 * model.flops_per_token(2, 3, training=True) * 3 * 8)
    assert translate(model, vocabulary, PAIRS.sources) == PAIRS.targets
    src, _, _ = vocabulary.batch(["ab", "b"], ["", ""])
    start = torch.cat([model.prompt(src), torch.full((2, 1), vocabulary.bos_id)], dim=1)
    generated = model.gpt.generate(start, max_new_tokens=5, temperature=0)[:, model.source_len:]
    assert model.greedy(src, max_new_tokens=5) == until_eos(generated, vocabulary.eos_id)


@pytest.mark.parametrize("call, message", [
    (lambda m, v: DecoderOnlyTranslator(m.gpt, 11), "source_len must be a whole number from 1 to"),
    (lambda m, v: DecoderOnlyTranslator(m.gpt, 3, pad_id=8), "DecoderOnlyTranslator.pad_id must be a whole number "
                                                             "from 0 to 7 .a token id., got 8"),
    (lambda m, v: DecoderOnlyTranslator(m.gpt, 3, eos_id=0), "DecoderOnlyTranslator.eos_id=0 must differ from "
                                                             "pad_id=0 and bos_id=1"),
    (lambda m, v: translate(m, v, ["abab"]), "a source of 4 tokens is longer than source_len=3"),
    (lambda m, v: translate(m, v, ["ab"], beam_width=3), "beam search .beam_width=3. is written for the "
                                                         "encoder–decoder"),
    (lambda m, v: translate(m, v, ["ab"], max_new_tokens=9), "max_new_tokens must be a whole number from 1 to 8"),
    (lambda m, v: translate(m, v, ["ab"], max_new_tokens=0), "max_new_tokens must be a whole number from 1 to 8"),
    (lambda m, v: translate(m, v, "ab"), "sources must be a list of texts .one sentence each., got 'ab'"),
    (lambda m, v: translate(m, v, ["ab", 3]), "sources must be a list of texts"),
    (lambda m, v: translate(m, v, ["ab"], batch_size=0), "batch_size must be a whole number >= 1"),
])
def test_bad_decoder_only_input_is_named(call, message):
    vocabulary = PairVocabulary(PAIRS)
    with pytest.raises(ValueError, match=message):
        call(tiny_decoder_only(vocabulary), vocabulary)


@pytest.mark.filterwarnings("ignore:.*below the energy tracker's resolution")  # two steps: short on purpose
@pytest.mark.parametrize("build", [tiny_model, tiny_decoder_only])
def test_a_translator_trains_under_bfloat16_autocast_and_validates_in_float32(build, cache, one_thread):
    vocabulary = PairVocabulary(PAIRS)
    config = TrainConfig(steps=2, batch_size=8, learning_rate=1e-2, warmup_steps=1, eval_interval=2, eval_batches=1)
    float32 = train_translator(build(vocabulary), vocabulary, PAIRS, PAIRS, config, progress=False)
    model = build(vocabulary)
    bfloat16 = train_translator(model, vocabulary, PAIRS, PAIRS, replace(config, precision="bfloat16"),
                                progress=False)
    assert (float32.precision, bfloat16.precision) == ("float32", "bfloat16")
    # the same first batch and weights: the loss differs by bfloat16's rounding only
    assert bfloat16.train_losses[0] != float32.train_losses[0]
    assert bfloat16.train_losses[0] == pytest.approx(float32.train_losses[0], rel=0.02)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast: the weights stay float32
    assert validation_loss(model, vocabulary, PAIRS, 8, 1) == bfloat16.final_val_loss  # validated in float32


@pytest.mark.parametrize("target_len", [-3, 2.5])
def test_decoder_only_flops_need_a_whole_target_length(target_len):
    translator = DecoderOnlyTranslator(GPT(GPTConfig(vocab_size=10, block_size=12, n_layer=1, n_head=1, n_embd=8)), 4)
    with pytest.raises(ValueError, match=f"target_len must be a whole number >= 1, got {target_len!r}"):
        translator.flops_per_token(target_len=target_len)  # -3 once gave a negative count


def vocabulary_with_pad_at_five() -> PairVocabulary:
    """Special ids away from the default layout: [a, <s>, </s>, <unk>, b, <pad>, x, y]. Padding is 5, and 0, the
    default padding id, is the character "a"."""
    return PairVocabulary(Pairs(["ab", "b", "aab"], ["xa", "x", "axy"]), pad_id=5)


def encoder_decoder_with_pad_at_five() -> EncoderDecoder:
    torch.manual_seed(0)
    return EncoderDecoder(Seq2SeqConfig(vocab_size=8, d_model=16, n_head=2, n_encoder_layer=1, n_decoder_layer=1,
                                        d_ff=32, max_source_len=8, max_target_len=8, dropout=0.0, pad_id=5))


def decoder_only_with_pad_at_five() -> DecoderOnlyTranslator:
    torch.manual_seed(0)
    return DecoderOnlyTranslator(GPT(GPTConfig(vocab_size=8, block_size=12, n_layer=1, n_head=2, n_embd=16)), 3,
                                 pad_id=5)


def cross_entropy_by_hand(model: torch.nn.Module, pairs: Pairs, ignore_index: int) -> float:
    src, decoder_input, labels = vocabulary_with_pad_at_five().batch(pairs.sources, pairs.targets)
    dev = next(model.parameters()).device
    with torch.no_grad():
        logits = model.eval()(src.to(dev), decoder_input.to(dev))
    return F.cross_entropy(logits.flatten(0, 1), labels.to(dev).flatten(), ignore_index=ignore_index).item()


@pytest.mark.filterwarnings("ignore:.*below the energy tracker's resolution")  # two steps: short on purpose
@pytest.mark.parametrize("build", [encoder_decoder_with_pad_at_five, decoder_only_with_pad_at_five])
def test_a_translator_trains_and_validates_ignoring_its_own_padding_id(build, cache, one_thread):
    model = build()
    untrained = copy.deepcopy(model)
    one_pair = Pairs(["ab"], ["xa"])  # every training batch is this pair 8 times: its loss is known in advance
    validation = Pairs(["ab", "b", "aab"], ["xa", "x", "axy"])  # targets of 2, 1 and 3: labels padded with 5
    config = TrainConfig(steps=2, batch_size=8, learning_rate=1e-2, warmup_steps=1, eval_interval=2,
                         eval_batches=1)
    vocabulary = vocabulary_with_pad_at_five()
    result = train_translator(model, vocabulary, one_pair, validation, config, label="pad 5", progress=False)
    assert result.train_losses[0] == pytest.approx(cross_entropy_by_hand(untrained, one_pair, ignore_index=5))
    assert result.final_val_loss == pytest.approx(cross_entropy_by_hand(model, validation, ignore_index=5))
    assert validation_loss(model, vocabulary, validation, 3, 1) == pytest.approx(result.final_val_loss)
    # the default padding id, 0, would skip every "a" and count the padding: another loss
    assert result.final_val_loss != pytest.approx(cross_entropy_by_hand(model, validation, ignore_index=0))


def test_the_decoder_only_translator_pads_and_decodes_with_its_own_ids():
    model = decoder_only_with_pad_at_five().eval()
    vocabulary = vocabulary_with_pad_at_five()
    src, _, _ = vocabulary.batch(["b", "ab"], ["", ""])
    a, b = vocabulary.stoi["a"], vocabulary.stoi["b"]
    assert model.prompt(src).tolist() == [[5, 5, b], [5, a, b]]  # "a" is 0, the default padding: kept
    start = torch.cat([model.prompt(src), torch.full((2, 1), vocabulary.bos_id)], dim=1)
    generated = model.gpt.generate(start, max_new_tokens=5, temperature=0)[:, model.source_len:]
    assert model.greedy(src, max_new_tokens=5) == until_eos(generated, vocabulary.eos_id)


MISMATCH = ("the vocabulary's special ids \\(pad_id=0, bos_id=1, eos_id=2\\) differ from the model's "
            "\\(pad_id=5, bos_id=1, eos_id=2\\): build the vocabulary with the model's, "
            "PairVocabulary\\(pairs, pad_id=5, bos_id=1, eos_id=2\\)")


@pytest.mark.parametrize("build", [encoder_decoder_with_pad_at_five, decoder_only_with_pad_at_five])
@pytest.mark.parametrize("call", [
    lambda m, v: train_translator(m, v, PAIRS, PAIRS, TrainConfig(steps=2, warmup_steps=1), progress=False),
    lambda m, v: validation_loss(m, v, PAIRS, 4, 1),
    lambda m, v: translate(m, v, ["ab"]),
])
def test_a_vocabulary_whose_special_ids_differ_from_the_models_is_refused(build, call, cache):
    with pytest.raises(ValueError, match=MISMATCH):
        call(build(), PairVocabulary(PAIRS))  # the default layout, padding at 0


def test_a_translator_needs_a_pair_vocabulary_and_a_translator():
    vocabulary = PairVocabulary(PAIRS)
    with pytest.raises(TypeError, match="expected a PairVocabulary, got dict"):
        translate(tiny_model(vocabulary), dict(vocabulary.stoi), ["ab"])
    with pytest.raises(TypeError, match="expected an EncoderDecoder or a DecoderOnlyTranslator, got GPT"):
        translate(tiny_decoder_only(vocabulary).gpt, vocabulary, ["ab"])
