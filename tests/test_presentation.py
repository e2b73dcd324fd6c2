import sys

import matplotlib
import pytest

from greenlab.plots import plot_tokens, visible
from greenlab.settings import require
from greenlab.tokenizer import CharTokenizer
from greenlab.widgets import token_playground, tokens_html

matplotlib.use("Agg")


def test_visible_whitespace():
    assert visible(" a\tb\n") == "␣a→b↵"


def test_plot_tokens_draws_one_box_per_token():
    figure = plot_tokens(["The", " cat", "\n"], [1, 2, 3], chars_per_line=10, title="t")
    assert len(figure.axes[0].patches) == 3
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert "␣cat" in texts and "↵" in texts and "3" in texts


def test_plot_attention_with_one_head():
    import torch

    from greenlab.plots import plot_attention

    figure = plot_attention(torch.full((1, 1, 3, 3), 1 / 3), ["a", "b", "c"], layer=0)
    assert len(figure.axes) == 1


def test_tokens_html_escapes_and_shows_ids():
    page = tokens_html(["<b>", " x"], [7, 8])
    assert "&lt;b&gt;" in page and "␣x" in page and ">7</small>" in page


def test_playground_updates_when_the_text_changes():
    tokenizers = {"char": CharTokenizer("abc ")}
    box = token_playground(tokenizers, "ab")
    shown = box.children[2]
    assert "2 tokens" in shown.value
    box.children[1].value = "abc cab"
    assert "7 tokens" in shown.value


def test_missing_optional_dependency_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(ImportError, match=r"pip install 'greenlab\[lab\]'"):
        require("ipywidgets", extra="lab")
