import pytest
import torch

from greenlab.foundations import ledger
from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.models.gpt import GPT, GPTConfig
from greenlab.training import probe_models
from greenlab.training.train import TrainConfig

TEXT = "the access code of ada is 123456. the nurse lost her phone on the train. " * 4
QUICK = TrainConfig(steps=2, batch_size=2, block_size=32, warmup_steps=1, eval_interval=1, eval_batches=1)


@pytest.fixture(scope="module")
def tokenizer():
    return BPETokenizer.train(TEXT, 300)


@pytest.fixture(scope="module")
def model(tokenizer):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=64, n_layer=1, n_head=2, n_embd=16)).eval()


def test_log_likelihood_is_the_sum_of_the_text_tokens_log_probabilities(model, tokenizer):
    context, text = tokenizer.encode("\n\nthe access code of"), tokenizer.encode(" ada is 123456.")
    ids = context + text
    with torch.no_grad():
        log_probs = model(torch.tensor([ids[:-1]]))[0].log_softmax(-1)
    by_hand = sum(log_probs[i - 1, ids[i]].item() for i in range(len(context), len(ids)))
    [score] = probe_models.log_likelihoods(model, tokenizer, [" ada is 123456."], context="\n\nthe access code of")
    assert score == pytest.approx(by_hand, abs=1e-5) and score < 0


def test_log_likelihoods_are_the_same_batched_and_one_by_one(model, tokenizer):
    texts = ["the nurse lost her phone.", " 123456.", "a", "the access code of ada is 123456. the nurse"]
    one_by_one = probe_models.log_likelihoods(model, tokenizer, texts, batch_size=1)
    batched = probe_models.log_likelihoods(model, tokenizer, texts, batch_size=256)
    assert len(set(one_by_one)) == 4
    assert batched == pytest.approx(one_by_one, abs=1e-5)


def test_log_likelihoods_refuse_an_empty_context(model, tokenizer):
    with pytest.raises(ValueError, match="the context must be at least one token"):
        probe_models.log_likelihoods(model, tokenizer, ["a"], context="")


def test_log_likelihoods_refuse_a_text_longer_than_the_models_context(model, tokenizer):
    longest = "x" * (model.config.block_size + 1 - len(tokenizer.encode("\n\n")))  # one token per unmerged "x"
    assert len(probe_models.log_likelihoods(model, tokenizer, [longest])) == 1
    with pytest.raises(ValueError, match="longer than the model's context \\(64 tokens\\)"):
        probe_models.log_likelihoods(model, tokenizer, ["a", longest + "x"])


@pytest.mark.parametrize("documents", [[], [""], ["fine", ""], "a string"])
def test_train_mixed_refuses_what_is_not_a_list_of_documents(cache, tokenizer, documents):
    with pytest.raises(ValueError, match="extra_documents must be a non-empty list of non-empty strings"):
        probe_models.train_mixed(documents, tokenizer, label="bad", training=QUICK)


def _runs(cache):
    return [path for path in (cache / "probes").iterdir() if path.is_dir()]


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.filterwarnings("ignore:.*below the energy tracker's resolution")
def test_train_mixed_trains_once_then_loads_the_same_weights_from_the_cache(cache, tokenizer):
    first = probe_models.train_mixed(["the access code of ada is 123456."] * 3, tokenizer, label="t", training=QUICK)
    assert first.trained_now and first.model.config == probe_models.probe_config(tokenizer)
    assert len(_runs(cache)) == 1
    assert ledger.table(this_session=True)["run"].tolist() == ["probe model: t"]
    again = probe_models.train_mixed(["the access code of ada is 123456."] * 3, tokenizer, label="t", training=QUICK)
    assert not again.trained_now and not again.model.training
    assert all(torch.equal(w, again.model.state_dict()[k]) for k, w in _weights(first.model).items())
    assert again.measurement.energy_kwh == pytest.approx(first.measurement.energy_kwh)
    assert ledger.table(this_session=True)["run"].tolist() == ["probe model: t"]  # loading costs no training
    other = probe_models.train_mixed(["the access code of ada is 654321."], tokenizer, label="t", training=QUICK)
    assert other.trained_now and len(_runs(cache)) == 2


@pytest.mark.parametrize("batch_size", [-1, 0, 2.5, None])
def test_log_likelihoods_score_a_whole_number_of_texts_at_a_time(model, tokenizer, batch_size):
    # -1 once scored no text at all and returned [], which a bias probe then averaged
    with pytest.raises(ValueError, match=f"batch_size must be a whole number >= 1 .*, got {batch_size!r}"):
        probe_models.log_likelihoods(model, tokenizer, ["the nurse", "the cook"], batch_size=batch_size)
