"""Corpora and token batches: the text every model in the course learns from.

The default corpus, "pydoc", needs no network: the English prose of the Python language reference that CPython
ships for `help()` (`pydoc_data.topics`, ~460k characters in 79 topics). It changes with every Python release, so
the course ships Python 3.11.7's, checked by SHA-256: the same bytes on every Python. "stdlib", 68 modules of the
same Python's standard library, is the code of the applications chapter. Bigger corpora from the Hugging Face Hub
are opt-in, for learners who are online (Colab):

    corpus = load_corpus()                      # offline, deterministic train/validation split
    corpus.train_text[:80], corpus.as_dataset() # plain text, or a datasets.DatasetDict
    load_corpus("wikitext-2")                   # online only; fails at once, with a clear message, offline
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from greenlab.foundations.settings import DATA_DIR, OfflineError, is_offline
from greenlab.foundations.validation import check_whole

VALIDATION_EVERY = 10  # every 10th document (in sorted order) is held out for validation
PYDOC_TOPICS = DATA_DIR / "pydoc_topics.json.gz"  # {topic: text} of pydoc_data.topics, Python 3.11.7
PYDOC_TOPICS_PYTHON = "3.11.7"
PYDOC_TOPICS_SHA256 = "e7efa528c40a8bf6514b1db3ad0fee8ec864708e473deff6c4001a57a65be58f"
STDLIB_SNAPSHOT = DATA_DIR / "stdlib_snapshot.json.gz"  # {"Lib/name.py": source}: 68 modules of CPython 3.11.7
STDLIB_SNAPSHOT_PYTHON = "3.11.7"
STDLIB_SNAPSHOT_SHA256 = "02ccd901102e58eb3af5d92a758e7eb9b76b143b2e899ce1b144412be1eb2194"


@dataclass(frozen=True)
class Corpus:
    """A corpus as documents, split into train and validation."""

    name: str
    train_documents: list[str]
    validation_documents: list[str]
    source: str

    @property
    def train_text(self) -> str:
        return "\n\n".join(self.train_documents)

    @property
    def validation_text(self) -> str:
        return "\n\n".join(self.validation_documents)

    def as_dataset(self):
        """The corpus as a Hugging Face `datasets.DatasetDict` with one document per row."""
        from datasets import Dataset, DatasetDict

        return DatasetDict(
            train=Dataset.from_dict({"text": self.train_documents}),
            validation=Dataset.from_dict({"text": self.validation_documents}),
        )

    def __repr__(self) -> str:
        return (f"Corpus({self.name!r}: {len(self.train_documents)} train documents, "
                f"{len(self.train_text):,} chars; {len(self.validation_documents)} validation documents, "
                f"{len(self.validation_text):,} chars)")


_HEADING_RULE = re.compile(r"^[*=\-~^\"]{3,}$", re.MULTILINE)
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """Normalise Unicode (NFC), drop reStructuredText heading rules, trailing spaces and runs of blank lines."""
    text = unicodedata.normalize("NFC", text)
    text = _HEADING_RULE.sub("", text)
    text = _TRAILING_SPACE.sub("", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def deduplicate(documents: list[str]) -> list[str]:
    """Each document once, after `clean_text`, in the order of first appearance: exact deduplication."""
    return list(dict.fromkeys(clean_text(d) for d in documents))


def split_documents(documents: list[str]) -> tuple[list[str], list[str]]:
    """Deterministic split: every VALIDATION_EVERY-th document goes to validation, the rest to train."""
    train = [d for i, d in enumerate(documents) if i % VALIDATION_EVERY != VALIDATION_EVERY - 1]
    validation = [d for i, d in enumerate(documents) if i % VALIDATION_EVERY == VALIDATION_EVERY - 1]
    return train, validation


class CorruptDataError(ValueError):
    """A shipped data file is not the file the course was written with."""


def read_shipped_json(path: Path, sha256: str, what: str) -> dict[str, str]:
    """A shipped gzip-compressed JSON object of texts, after checking the file's SHA-256; `what` names the file in
    errors."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CorruptDataError(f"cannot read the {what} file {path}: {error}") from error
    digest = hashlib.sha256(raw).hexdigest()
    if digest != sha256:
        raise CorruptDataError(f"the {what} file {path} is damaged or replaced: its SHA-256 is {digest}, "
                               f"expected {sha256}. Restore it with `git checkout -- {path.name}` in data/.")
    return json.loads(gzip.decompress(raw).decode("utf-8"))


def read_text_records(path: Path, fields: tuple[str, ...], key: str, what: str, item: str) -> list[dict[str, str]]:
    """A shipped JSON list of records (a question set, a set of problems): each an object with exactly `fields`, all
    non-empty text, and no two with the same `key`. A ValueError names the file (`what`) or the record (`item` N)."""
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read the {what} {path}: {error}") from None
    except RecursionError:
        raise ValueError(f"cannot read the {what} {path}: its JSON is nested too deeply (a list of flat records "
                         f"is expected)") from None
    if not isinstance(records, list) or not records:
        raise ValueError(f"the {what} {path} must be a non-empty JSON list, got {type(records).__name__}")
    seen = set()
    for number, record in enumerate(records):
        where = f"{item} {number} of {path.name}"
        if not isinstance(record, dict) or set(record) != set(fields):
            got = f"the fields {', '.join(map(str, record))}" if isinstance(record, dict) else type(record).__name__
            raise ValueError(f"{where} must be an object with exactly the fields {', '.join(fields)}, got {got}")
        if not all(isinstance(record[field], str) and record[field].strip() for field in fields):
            raise ValueError(f"{where} has an empty or non-text field: {record!r}")
        if record[key] in seen:
            raise ValueError(f"{where} repeats the {key} {record[key]!r}")
        seen.add(record[key])
    return records


def read_pydoc_topics(path: Path = PYDOC_TOPICS, sha256: str = PYDOC_TOPICS_SHA256) -> dict[str, str]:
    """The shipped `pydoc_data.topics` text, {topic: text}, after checking the file's SHA-256."""
    return read_shipped_json(path, sha256, "default corpus")


def read_stdlib_snapshot(path: Path = STDLIB_SNAPSHOT, sha256: str = STDLIB_SNAPSHOT_SHA256) -> dict[str, str]:
    """The shipped standard-library sources, {"Lib/name.py": source}, after checking the file's SHA-256."""
    return read_shipped_json(path, sha256, "standard-library snapshot")


def _pydoc_corpus(local_path: Path | None) -> Corpus:
    if local_path is not None:
        raise ValueError("the 'pydoc' corpus ships with the course and takes no local_path")
    topics = read_pydoc_topics()
    documents = deduplicate([topics[key] for key in sorted(topics)])
    train, validation = split_documents(documents)
    return Corpus("pydoc", train, validation,
                  source=f"pydoc_data.topics of Python {PYDOC_TOPICS_PYTHON} (PSF license)")


def _stdlib_corpus(local_path: Path | None) -> Corpus:
    if local_path is not None:
        raise ValueError("the 'stdlib' corpus ships with the course and takes no local_path")
    sources = read_stdlib_snapshot()
    train, validation = split_documents([sources[path] for path in sorted(sources)])  # whole files, as written
    return Corpus("stdlib", train, validation,
                  source=f"68 modules of CPython {STDLIB_SNAPSHOT_PYTHON}'s standard library, Lib/ (PSF license)")


def stdlib_file_names() -> tuple[list[str], list[str]]:
    """The paths of the 'stdlib' corpus's train and validation files, in the corpus's order."""
    return split_documents(sorted(read_stdlib_snapshot()))


def _wikitext2_corpus(local_path: Path | None) -> Corpus:
    """WikiText-2 (Merity et al. 2016, CC BY-SA): Wikipedia good and featured articles."""
    if local_path is None and is_offline():
        raise OfflineError(
            "the 'wikitext-2' corpus is downloaded from the Hugging Face Hub, and this machine is offline. "
            "Use the default corpus (load_corpus('pydoc')), or pass local_path= to a copy saved with "
            "DatasetDict.save_to_disk() while online.")
    import datasets

    if local_path is not None:
        splits = datasets.load_from_disk(str(local_path))
        source = f"WikiText-2 (raw), local copy at {local_path}"
    else:
        splits = datasets.load_dataset("Salesforce/wikitext", "wikitext-2-raw-v1")
        source = "WikiText-2 (raw), Salesforce/wikitext on the Hugging Face Hub, CC BY-SA 3.0"
    if not isinstance(splits, datasets.DatasetDict):
        raise ValueError(f"the WikiText-2 copy at {local_path} is a single {type(splits).__name__}, not a DatasetDict "
                         f"with 'train' and 'validation' splits: save the whole load_dataset(...) result")
    missing = {"train", "validation"} - set(splits)
    if missing:
        raise ValueError(f"the WikiText-2 copy at {local_path} lacks the split(s) {sorted(missing)}")

    def documents(split: str) -> list[str]:
        return [clean_text(t) for t in splits[split]["text"] if t.strip()]

    return Corpus("wikitext-2", documents("train"), documents("validation"), source=source)


CORPORA: dict[str, tuple[Callable[[Path | None], Corpus], str]] = {
    "pydoc": (_pydoc_corpus, "offline: the Python language reference shipped with CPython (default)"),
    "stdlib": (_stdlib_corpus, "offline: Python source code, 68 modules of the standard library (for code completion)"),
    "wikitext-2": (_wikitext2_corpus, "online: Wikipedia articles from the Hugging Face Hub (~11M chars)"),
}


def available_corpora() -> dict[str, str]:
    """Corpus names with a one-line description."""
    return {name: description for name, (_, description) in CORPORA.items()}


def load_corpus(name: str = "pydoc", *, local_path: str | Path | None = None) -> Corpus:
    """Load a corpus by name; `local_path` points an online corpus at a copy saved with `save_to_disk`."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; available: {', '.join(CORPORA)}")
    loader, _ = CORPORA[name]
    return loader(Path(local_path) if local_path is not None else None)


def check_token_ids(ids: torch.Tensor, block_size: int) -> None:
    """A clear error unless `ids` is a 1-D long tensor with more than `block_size` tokens."""
    if not isinstance(ids, torch.Tensor) or ids.ndim != 1 or ids.dtype != torch.long:
        raise ValueError("token ids must be a 1-D torch.long tensor")
    check_whole("block_size", block_size)
    if len(ids) <= block_size:
        raise ValueError(f"{len(ids)} tokens are too few for block_size={block_size}: need at least {block_size + 1}")


def random_batch(ids: torch.Tensor, batch_size: int, block_size: int,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch_size` random windows of `block_size` tokens (inputs) and the same windows shifted by one (targets)."""
    check_token_ids(ids, block_size)
    check_whole("batch_size", batch_size)
    starts = torch.randint(len(ids) - block_size, (batch_size,), generator=generator)
    windows = torch.stack([ids[s: s + block_size + 1] for s in starts.tolist()])
    return windows[:, :-1], windows[:, 1:]


def sequential_batches(ids: torch.Tensor, batch_size: int, block_size: int,
                       max_batches: int | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Non-overlapping windows from the start of `ids`, batched: the same every time, for evaluation. `max_batches`
    keeps the first ones (a count: a negative one would drop from the end)."""
    check_token_ids(ids, block_size)
    check_whole("batch_size", batch_size)
    if max_batches is not None:
        check_whole("max_batches", max_batches)
    n_windows = (len(ids) - 1) // block_size
    windows = ids[: n_windows * block_size + 1]
    inputs = windows[:-1].view(n_windows, block_size)
    targets = windows[1:].view(n_windows, block_size)
    batches = [(inputs[i: i + batch_size], targets[i: i + batch_size]) for i in range(0, n_windows, batch_size)]
    return batches[:max_batches] if max_batches is not None else batches
