import hashlib
import sys
import time

import pytest
import torch

from greenlab.foundations import data, settings


def test_default_corpus_is_offline_deterministic_and_split():
    corpus, again = data.load_corpus(), data.load_corpus("pydoc")
    assert corpus.train_documents == again.train_documents
    assert corpus.validation_documents == again.validation_documents
    assert len(corpus.train_text) > 300_000 and len(corpus.validation_text) > 10_000
    assert not set(corpus.train_documents) & set(corpus.validation_documents)
    assert all(doc.strip() == doc and doc for doc in corpus.train_documents)
    assert "statement" in corpus.train_text


def test_default_corpus_is_the_same_text_on_every_python():
    corpus = data.load_corpus()
    text = corpus.train_text + "\x00" + corpus.validation_text
    assert len(corpus.train_text) == 436_764 and len(corpus.validation_text) == 23_184
    assert hashlib.sha256(text.encode()).hexdigest()[:16] == "451de9ddf4a10fbd"
    assert corpus.source == "pydoc_data.topics of Python 3.11.7 (PSF license)"


@pytest.mark.skipif(sys.version_info[:3] != (3, 11, 7), reason="the shipped text is Python 3.11.7's")
def test_shipped_corpus_is_python_3_11_7s_pydoc_topics():
    from pydoc_data.topics import topics

    assert data.read_pydoc_topics() == topics


@pytest.mark.parametrize("damage", ["truncated", "one byte changed", "empty"])
def test_damaged_corpus_file_is_a_clear_error_naming_it(tmp_path, damage):
    raw = data.PYDOC_TOPICS.read_bytes()
    damaged = {"truncated": raw[:1000], "one byte changed": raw[:500] + bytes([raw[500] ^ 1]) + raw[501:],
               "empty": b""}[damage]
    broken = tmp_path / "pydoc_topics.json.gz"
    broken.write_bytes(damaged)
    with pytest.raises(data.CorruptDataError, match=f"{broken} is damaged or replaced"):
        data.read_pydoc_topics(broken)


def test_missing_corpus_file_is_a_clear_error_naming_it(tmp_path):
    with pytest.raises(data.CorruptDataError, match=f"cannot read the default corpus file {tmp_path / 'gone'}"):
        data.read_pydoc_topics(tmp_path / "gone")


def test_code_corpus_is_shipped_standard_library_source_split_by_file():
    corpus = data.load_corpus("stdlib")
    sources = data.read_stdlib_snapshot()
    assert len(sources) == 68 and all(name.startswith("Lib/") and name.endswith(".py") for name in sources)
    assert len(corpus.train_documents) == 62 and len(corpus.validation_documents) == 6
    train_names, held_out = data.stdlib_file_names()
    assert [sources[name] for name in train_names] == corpus.train_documents  # whole files, unchanged
    assert [sources[name] for name in held_out] == corpus.validation_documents
    assert held_out == ["Lib/contextlib.py", "Lib/fractions.py", "Lib/html/parser.py", "Lib/numbers.py",
                        "Lib/random.py", "Lib/statistics.py"]
    assert sum(map(len, sources.values())) == 1_193_987
    assert corpus.source == "68 modules of CPython 3.11.7's standard library, Lib/ (PSF license)"
    for source in sources.values():
        compile(source, "<snapshot>", "exec")  # Python source that this Python still parses


@pytest.mark.skipif(sys.version_info[:3] != (3, 11, 7), reason="the shipped sources are Python 3.11.7's")
def test_shipped_code_is_python_3_11_7s_standard_library():
    import sysconfig
    from pathlib import Path

    library = Path(sysconfig.get_paths()["stdlib"])
    for name, source in data.read_stdlib_snapshot().items():
        assert (library / name.removeprefix("Lib/")).read_text(encoding="utf-8") == source, name


def test_damaged_code_snapshot_is_a_clear_error_naming_it(tmp_path):
    broken = tmp_path / "stdlib_snapshot.json.gz"
    broken.write_bytes(data.STDLIB_SNAPSHOT.read_bytes()[:-1])
    with pytest.raises(data.CorruptDataError, match=f"standard-library snapshot file {broken} is damaged"):
        data.read_stdlib_snapshot(broken)


def test_corpus_as_hugging_face_dataset():
    corpus = data.load_corpus()
    dataset = corpus.as_dataset()
    assert set(dataset) == {"train", "validation"}
    assert dataset["train"].num_rows == len(corpus.train_documents)
    assert dataset["validation"][0]["text"] == corpus.validation_documents[0]


def test_clean_text():
    raw = "Title\n*****\n\nline with spaces   \n\n\n\n\nnext\u0065\u0301"
    assert data.clean_text(raw) == "Title\n\nline with spaces\n\nnext\u00e9"


def test_deduplicate_keeps_each_document_once_in_the_order_of_first_appearance():
    assert data.deduplicate(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]
    assert data.deduplicate([]) == []


def test_deduplicate_compares_and_returns_cleaned_text():
    assert data.deduplicate(["x  \n\n\n\ny", "x\n\ny", " x\n\ny\n", "z"]) == ["x\n\ny", "z"]


def test_split_every_tenth_document():
    train, validation = data.split_documents([str(i) for i in range(25)])
    assert validation == ["9", "19"] and len(train) == 23


def test_unknown_corpus_lists_the_available_ones():
    with pytest.raises(ValueError, match="pydoc, stdlib, wikitext-2"):
        data.load_corpus("shakespeare")
    assert "pydoc" in data.available_corpora()


def test_online_corpus_fails_at_once_when_offline():
    started = time.perf_counter()
    with pytest.raises(settings.OfflineError, match="offline.*local_path"):
        data.load_corpus("wikitext-2")
    assert time.perf_counter() - started < 1.0


def test_online_corpus_from_a_local_copy(tmp_path):
    from datasets import Dataset, DatasetDict

    rows = {"train": ["", " = Valkyria = \n", "The game began development in 2010 .\n"],
            "validation": ["Robert Boulter is an English actor .\n", ""]}
    DatasetDict({k: Dataset.from_dict({"text": v}) for k, v in rows.items()}).save_to_disk(tmp_path / "wt2")
    corpus = data.load_corpus("wikitext-2", local_path=tmp_path / "wt2")
    assert corpus.train_documents == ["= Valkyria =", "The game began development in 2010 ."]
    assert corpus.validation_documents == ["Robert Boulter is an English actor ."]


def test_local_copy_without_validation_is_a_clear_error(tmp_path):
    from datasets import Dataset, DatasetDict

    DatasetDict(train=Dataset.from_dict({"text": ["a"]})).save_to_disk(tmp_path / "wt2")
    with pytest.raises(ValueError, match="lacks the split"):
        data.load_corpus("wikitext-2", local_path=tmp_path / "wt2")


def test_local_copy_of_one_split_is_a_clear_error(tmp_path):
    from datasets import Dataset

    Dataset.from_dict({"text": ["a"]}).save_to_disk(tmp_path / "wt2")
    with pytest.raises(ValueError, match="is a single Dataset, not a DatasetDict"):
        data.load_corpus("wikitext-2", local_path=tmp_path / "wt2")


def test_random_batch_targets_are_inputs_shifted_by_one():
    ids = torch.arange(100)
    x, y = data.random_batch(ids, 4, 8, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 8)
    assert torch.equal(x[:, 1:], y[:, :-1]) and torch.equal(y, x + 1)


def test_sequential_batches_are_fixed_and_cover_the_start():
    batches = data.sequential_batches(torch.arange(50), batch_size=2, block_size=6, max_batches=2)
    assert [x.shape[0] for x, _ in batches] == [2, 2]
    assert batches[0][0][0].tolist() == [0, 1, 2, 3, 4, 5] and batches[0][1][0].tolist() == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("ids, block, message", [
    (torch.arange(5), 8, "too few"),
    (torch.arange(20).float(), 4, "torch.long"),
    (torch.arange(20).view(4, 5), 2, "1-D"),
    (torch.arange(20), 0, "block_size"),
])
def test_bad_token_ids_are_clear_errors(ids, block, message):
    with pytest.raises(ValueError, match=message):
        data.random_batch(ids, 2, block, torch.Generator())


@pytest.mark.parametrize("call, name, value", [
    (lambda ids: data.sequential_batches(ids, -1, 4), "batch_size", -1),  # once silently the whole text in one
    (lambda ids: data.sequential_batches(ids, 0, 4), "batch_size", 0),
    (lambda ids: data.sequential_batches(ids, 2.5, 4), "batch_size", 2.5),
    (lambda ids: data.sequential_batches(ids, 2, 4, max_batches=-1), "max_batches", -1),  # once all but the last
    (lambda ids: data.random_batch(ids, "2", 4, torch.Generator()), "batch_size", "2"),
    (lambda ids: data.random_batch(ids, -1, 4, torch.Generator()), "batch_size", -1),
])
def test_batches_need_whole_numbers_of_windows(call, name, value):
    with pytest.raises(ValueError, match=f"{name} must be a whole number >= 1, got {value!r}"):
        call(torch.arange(100))
