import pytest
import torch

from greenlab import ledger
from greenlab.seq2seq import EncoderDecoder, Seq2SeqConfig
from greenlab.tasks import PairVocabulary, Pairs
from greenlab.train import TrainConfig
from greenlab.translate import scores, train_translator, translate

PAIRS = Pairs(["ab", "ba", "aa", "bb"], ["xy", "yx", "xx", "yy"])  # every source 2 tokens, every target 2 (+ 1)


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # seconds, whatever the other core is doing
    yield
    torch.set_num_threads(threads)


def tiny_model(vocabulary: PairVocabulary) -> EncoderDecoder:
    torch.manual_seed(0)
    return EncoderDecoder(Seq2SeqConfig(vocab_size=vocabulary.vocab_size, d_model=32, n_head=2, n_encoder_layer=1,
                                        n_decoder_layer=1, d_ff=64, max_source_len=8, max_target_len=8,
                                        dropout=0.0))


def test_a_trained_translator_reproduces_its_pairs_and_its_run_is_measured(cache, one_thread):
    vocabulary = PairVocabulary(PAIRS)
    model = tiny_model(vocabulary)
    config = TrainConfig(steps=150, batch_size=8, learning_rate=1e-2, min_learning_rate=1e-3, warmup_steps=10,
                         eval_interval=50, eval_batches=1)
    result = train_translator(model, vocabulary, PAIRS, PAIRS, config, label="tiny translator", progress=False)
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
