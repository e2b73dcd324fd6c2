import pytest
import torch

from greenlab.foundations import ledger, settings
from greenlab.foundations.tasks import PairVocabulary, Pairs
from greenlab.models.gpt import GPT, GPTConfig
from greenlab.models.seq2seq import EncoderDecoder, Seq2SeqConfig, until_eos
from greenlab.training.train import ConfigError, TrainConfig
from greenlab.training.translate import DecoderOnlyTranslator, scores, train_translator, translate

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
    P, S = PairVocabulary.PAD, PairVocabulary.BOS
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
    start = torch.cat([model.prompt(src), torch.full((2, 1), PairVocabulary.BOS)], dim=1)
    generated = model.gpt.generate(start, max_new_tokens=5, temperature=0)[:, model.source_len:]
    assert model.greedy(src, max_new_tokens=5) == until_eos(generated, PairVocabulary.EOS)


@pytest.mark.parametrize("call, message", [
    (lambda m, v: DecoderOnlyTranslator(m.gpt, 11), "source_len must be a whole number from 1 to"),
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


def test_a_translator_refuses_bfloat16_by_name():
    config = TrainConfig(steps=2, warmup_steps=1, precision="bfloat16")
    with pytest.raises(ConfigError, match="precision='bfloat16'"):
        train_translator(None, None, [], [], config)


@pytest.mark.parametrize("target_len", [-3, 2.5])
def test_decoder_only_flops_need_a_whole_target_length(target_len):
    translator = DecoderOnlyTranslator(GPT(GPTConfig(vocab_size=10, block_size=12, n_layer=1, n_head=1, n_embd=8)), 4)
    with pytest.raises(ValueError, match=f"target_len must be a whole number >= 1, got {target_len!r}"):
        translator.flops_per_token(target_len=target_len)  # -3 once gave a negative count
