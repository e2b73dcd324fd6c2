import sys

import matplotlib
import pytest

from greenlab.measurement import footprint
from greenlab.foundations.settings import require
from greenlab.foundations.tokenizer import CharTokenizer
from greenlab.presentation.plots import plot_tokens, visible
from greenlab.presentation.widgets import footprint_calculator, pattern_explorer, token_playground, tokens_html

matplotlib.use("Agg")


def test_visible_whitespace():
    assert visible(" a\tb\n") == "␣a→b↵"


def test_plot_tokens_draws_one_box_per_token():
    figure = plot_tokens(["The", " cat", "\n"], [1, 2, 3], chars_per_line=10, title="t")
    assert len(figure.axes[0].patches) == 3
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert "␣cat" in texts and "↵" in texts and "3" in texts


def test_plot_attention_draws_each_heads_weights_of_the_chosen_layer():
    import torch

    from greenlab.presentation.plots import plot_attention

    maps = torch.arange(2 * 2 * 3 * 3, dtype=torch.float32).view(2, 2, 3, 3) / 36  # (layer, head, query, key)
    figure = plot_attention(maps, ["a", " b", "\n"], layer=1)
    assert len(figure.axes) == 2
    for head, ax in enumerate(figure.axes):
        assert [image.get_array().tolist() for image in ax.images] == [maps[1, head].tolist()]
        assert ax.images[0].get_clim() == (0, 1) and ax.get_title() == f"layer 1, head {head}"
        assert [label.get_text() for label in ax.get_xticklabels()] == ["a", "␣b", "↵"]
    assert [label.get_text() for label in figure.axes[0].get_yticklabels()] == ["a", "␣b", "↵"]
    assert [label.get_text() for label in figure.axes[1].get_yticklabels()] == [""] * 3  # rows named once
    uniform = torch.full((1, 1, 3, 3), 1 / 3)
    one_head = plot_attention(uniform, ["a", "b", "c"], layer=0)
    assert [image.get_array().tolist() for ax in one_head.axes for image in ax.images] == [uniform[0, 0].tolist()]


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


def test_playground_reads_as_text_where_widgets_cannot_run():
    box = token_playground({"char": CharTokenizer("abc ")}, "abc ab")
    assert repr(box) == "char: 6 tokens for 6 characters"


def test_calculator_computes_with_exactly_the_values_it_was_given():
    calculator = footprint_calculator(parameters=7e9, tokens=2e12)
    parameters, tokens = calculator.children[:2]
    assert (parameters.value, tokens.value) == (7e9, 2e12)  # a log slider showed 10**9.8 = 6.31e9 here
    published = footprint.estimate(7e9, 2e12)  # A100, USA, PUE 1.1, 30 % utilization: the calculator's defaults
    assert repr(calculator) == f"{published}\n{footprint.cost_line(published)}"
    assert str(published) in calculator.children[-1].value
    tokens.value = 1.4e12
    assert repr(calculator).startswith(str(footprint.estimate(7e9, 1.4e12)))


def test_calculator_explains_a_value_it_cannot_use():
    calculator = footprint_calculator()
    calculator.children[0].value = -1.0
    assert repr(calculator) == "cannot estimate: parameters must be a finite number > 0, got -1.0"
    assert "cannot estimate" in calculator.children[-1].value


def test_pattern_explorer_counts_the_pairs_its_sliders_allow():
    explorer = pattern_explorer(64)
    # window 8 on 64 positions: queries 0..7 see 1..8 keys (36 pairs), the other 56 see 8 (448): 484 pairs of
    # 64 x 64 = 11.8 %, and of the 64 * 65 / 2 = 2,080 pairs of causal attention, 23 %
    assert repr(explorer) == ("window 8, stride (0: off) 0, global tokens 0, random blocks 0: "
                              "density 11.8% · 23% of causal FLOPs")
    sliders, picture = explorer.children[0].children[0].children, explorer.children[0].children[1]
    window_8 = bytes(picture.value)
    sliders[0].value = 64  # the whole causal triangle: 2,080 of 4,096 pairs
    assert repr(explorer).endswith("density 50.8% · 100% of causal FLOPs")
    assert window_8.startswith(b"\x89PNG") and bytes(picture.value) != window_8  # the mask, redrawn
    with pytest.raises(ValueError, match="multiple of 8"):
        pattern_explorer(30)


def test_missing_optional_dependency_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(ImportError, match=r"pip install 'greenlab\[lab\]'"):
        require("ipywidgets", extra="lab")
