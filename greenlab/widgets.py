"""Interactive widgets for the notebooks (ipywidgets). Each notebook pairs a widget with a static figure from
`greenlab.plots`, so that the page still shows something on GitHub, where widgets do not run."""

from __future__ import annotations

import html
from typing import Protocol

from greenlab.plots import PALETTE, visible
from greenlab.settings import require


class Tokenizer(Protocol):
    def encode(self, text: str) -> list[int]: ...
    def tokens(self, text: str) -> list[str]: ...


def tokens_html(pieces: list[str], ids: list[int]) -> str:
    """Coloured HTML spans, one per token, with the token id shown on hover and underneath."""
    spans = "".join(
        f'<span title="id {i}" style="background:{PALETTE[k % len(PALETTE)]};padding:1px 2px;margin:1px;'
        f'display:inline-block;font-family:monospace;white-space:pre">{html.escape(visible(p))}'
        f'<br><small style="color:#666">{i}</small></span>'
        for k, (p, i) in enumerate(zip(pieces, ids)))
    return f"<div style='line-height:2.2'>{spans}</div>"


def token_playground(tokenizers: dict[str, Tokenizer], text: str):
    """Type text, pick a tokenizer, see its tokens coloured with their ids and the token count."""
    widgets = require("ipywidgets", extra="lab")
    box = widgets.Textarea(value=text, layout=widgets.Layout(width="100%", height="80px"))
    choice = widgets.ToggleButtons(options=list(tokenizers))
    shown = widgets.HTML()

    def update(*_) -> None:
        tokenizer = tokenizers[choice.value]
        ids = tokenizer.encode(box.value)
        shown.value = (f"<b>{len(ids)} tokens</b> for {len(box.value)} characters"
                       f"{tokens_html(tokenizer.tokens(box.value), ids)}")

    box.observe(update, names="value")
    choice.observe(update, names="value")
    update()
    return widgets.VBox([choice, box, shown])


def pattern_explorer(length: int = 64):
    """Sliders for a sparse-attention pattern (window, stride, global tokens, random blocks) and the mask they
    make, with its density and its attention FLOPs relative to dense causal attention."""
    if length % 8:
        raise ValueError(f"length={length} must be a multiple of 8, the size of the random blocks")
    widgets = require("ipywidgets", extra="lab")
    import matplotlib.pyplot as plt
    from greenlab.attention import patterns

    sliders = {
        "window": widgets.IntSlider(8, min=1, max=length, description="window"),
        "stride": widgets.IntSlider(0, min=0, max=length // 2, description="stride (0: off)"),
        "n_global": widgets.IntSlider(0, min=0, max=length // 4, description="global"),
        "n_random": widgets.IntSlider(0, min=0, max=4, description="random blocks"),
    }
    picture = widgets.Output()

    def update(*_) -> None:
        window, stride, n_global, n_random = (s.value for s in sliders.values())
        mask = patterns.causal(length, window=window, n_global=n_global or 0)
        if stride:
            mask |= patterns.strided(length, stride)
        if n_random:
            mask |= patterns.random_blocks(length, block=8, n_random=n_random)
        dense = patterns.attention_flops(patterns.causal(length), head_dim=1)
        with picture:
            picture.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(4, 4))
            ax.imshow(mask, cmap="Greens", vmin=0, vmax=1.4, interpolation="nearest")
            ax.set_title(f"density {patterns.density(mask):.1%} · "
                         f"{patterns.attention_flops(mask, 1) / dense:.0%} of causal FLOPs", fontsize=9)
            ax.set_xlabel("key"), ax.set_ylabel("query")
            plt.show()

    for slider in sliders.values():
        slider.observe(update, names="value")
    update()
    return widgets.HBox([widgets.VBox(list(sliders.values())), picture])


def footprint_calculator(parameters: float = 7e9, tokens: float = 2e12):
    """Model size, training tokens, accelerator, country and PUE in; FLOPs, hours, energy, CO2eq and the cloud
    rent out (`greenlab.footprint.estimate` and `cost_line`)."""
    widgets = require("ipywidgets", extra="lab")
    from greenlab import footprint

    controls = {
        "parameters": widgets.FloatLogSlider(parameters, base=10, min=6, max=12, description="parameters"),
        "tokens": widgets.FloatLogSlider(tokens, base=10, min=8, max=14, description="tokens"),
        "hardware": widgets.Dropdown(options=footprint.priced_hardware(), value="A100",
                                     description="hardware"),
        "country": widgets.Dropdown(options=["SWE", "FRA", "CAN", "BRA", "GBR", "USA", "DEU", "CHN", "IND", "AUS"],
                                    value="USA", description="country"),
        "pue": widgets.FloatSlider(1.1, min=1.0, max=2.0, step=0.05, description="PUE"),
        "utilization": widgets.FloatSlider(footprint.DEFAULT_UTILIZATION, min=0.05, max=0.8, step=0.05,
                                           description="utilization"),
    }
    shown = widgets.HTML()

    def update(*_) -> None:
        estimate = footprint.estimate(**{k: c.value for k, c in controls.items()})
        shown.value = f"<pre>{estimate}\n{footprint.cost_line(estimate)}</pre>"

    for control in controls.values():
        control.observe(update, names="value")
    update()
    return widgets.VBox([*controls.values(), shown])
