"""Interactive widgets for the notebooks (ipywidgets). Each notebook pairs a widget with a static figure from
`greenlab.presentation.plots`, so that the page still shows something on GitHub, where widgets do not run.

Every widget here is a `Panel`: a box of controls and an output whose plain-text form is the output's current
reading. A front end without widgets (nbconvert, GitHub, a console, a notebook whose widget state was not saved)
shows that text instead of the controls, so it shows the same numbers. `tests/presentation/test_widgets_browser.py`
moves each control in JupyterLab in a real browser and checks the output against Python."""

from __future__ import annotations

import functools
import html
import io
from collections.abc import Callable
from typing import TYPE_CHECKING

from greenlab.foundations.settings import require
from greenlab.foundations.tokenizer import Tokenizer
from greenlab.presentation.plots import PALETTE, visible

if TYPE_CHECKING:
    import torch

LABEL_STYLE = {"description_width": "initial"}  # each label as wide as its text: never cut off


@functools.cache
def _panel_class() -> type:
    widgets = require("ipywidgets", extra="lab")

    class Panel(widgets.VBox):
        """A VBox whose plain-text form (what a front end without widgets shows) is its current reading."""

        def __init__(self, children: list, reading: Callable[[], str]) -> None:
            super().__init__(children)
            self._reading = reading

        def __repr__(self) -> str:
            return self._reading()

        def _repr_mimebundle_(self, **kwargs) -> dict:
            bundle = super()._repr_mimebundle_(**kwargs) or {}  # ipywidgets cuts the plain text at 110 characters
            return {**bundle, "text/plain": self._reading()}

        if hasattr(widgets.VBox, "_ipython_display_"):  # ipywidgets 7 (Colab's) displays through this instead
            def _ipython_display_(self, **kwargs) -> None:
                from IPython.display import display

                data = {"text/plain": self._reading(),  # whole, where ipywidgets 7 cuts it at 110 characters
                        "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0,
                                                                      "model_id": self._model_id}}
                display(data, raw=True)
                self._handle_displayed(**kwargs)

    return Panel


def panel(children: list, reading: Callable[[], str]):
    """A box of `children` that shows `reading()` as plain text where widgets cannot run."""
    return _panel_class()(children, reading)


def tokens_html(pieces: list[str], ids: list[int]) -> str:
    """Coloured HTML spans, one per token, with the token id shown on hover and underneath."""
    spans = "".join(
        f'<span title="id {i}" style="background:{PALETTE[k % len(PALETTE)]};padding:1px 2px;margin:1px;'
        f'display:inline-block;font-family:monospace;white-space:pre">{html.escape(visible(p))}'
        f'<br><small style="color:#666">{i}</small></span>'
        for k, (p, i) in enumerate(zip(pieces, ids)))
    return f"<div style='line-height:2.2'>{spans}</div>"


def token_count_line(tokenizer: Tokenizer, text: str) -> str:
    """The playground's headline: how many tokens a tokenizer makes of a text."""
    return f"{len(tokenizer.encode(text))} tokens for {len(text)} characters"


def token_playground(tokenizers: dict[str, Tokenizer], text: str):
    """Type text, pick a tokenizer, see its tokens coloured with their ids and the token count."""
    widgets = require("ipywidgets", extra="lab")
    box = widgets.Textarea(value=text, layout=widgets.Layout(width="100%", height="80px"))
    choice = widgets.ToggleButtons(options=list(tokenizers))
    shown = widgets.HTML()

    def update(*_) -> None:
        tokenizer = tokenizers[choice.value]
        shown.value = (f"<b>{html.escape(token_count_line(tokenizer, box.value))}</b>"
                       f"{tokens_html(tokenizer.tokens(box.value), tokenizer.encode(box.value))}")

    box.observe(update, names="value")
    choice.observe(update, names="value")
    update()
    return panel([choice, box, shown],
                 lambda: f"{choice.value}: {token_count_line(tokenizers[choice.value], box.value)}")


def pattern_mask(length: int, window: int, stride: int = 0, n_global: int = 0,
                 n_random: int = 0) -> torch.Tensor:
    """The explorer's sparse-attention pattern: a causal window with global tokens, plus strided and random-block
    connections where asked (a boolean mask, query × key)."""
    from greenlab.models.attention import patterns

    mask = patterns.causal(length, window=window, n_global=n_global)
    if stride:
        mask |= patterns.strided(length, stride)
    if n_random:
        mask |= patterns.random_blocks(length, block=8, n_random=n_random)
    return mask


def pattern_line(mask: torch.Tensor) -> str:
    """A pattern's density and its attention FLOPs relative to dense causal attention of the same length."""
    from greenlab.models.attention import patterns

    dense = patterns.attention_flops(patterns.causal(len(mask)), head_dim=1)
    return f"density {patterns.density(mask):.1%} · {patterns.attention_flops(mask, 1) / dense:.0%} of causal FLOPs"


def pattern_explorer(length: int = 64):
    """Sliders for a sparse-attention pattern (window, stride, global tokens, random blocks) and the mask they
    make, with its density and its attention FLOPs relative to dense causal attention."""
    if length % 8:
        raise ValueError(f"length={length} must be a multiple of 8, the size of the random blocks")
    widgets = require("ipywidgets", extra="lab")
    import matplotlib.pyplot as plt

    sliders = {
        "window": widgets.IntSlider(8, min=1, max=length, description="window"),
        "stride": widgets.IntSlider(0, min=0, max=length // 2, description="stride (0: off)"),
        "n_global": widgets.IntSlider(0, min=0, max=length // 4, description="global tokens"),
        "n_random": widgets.IntSlider(0, min=0, max=4, description="random blocks"),
    }
    for slider in sliders.values():
        slider.style = LABEL_STYLE
    picture = widgets.Image(format="png")  # an image, not an Output capture: it shows in any front end at once
    shown = widgets.HTML()

    def reading() -> str:
        settings = ", ".join(f"{slider.description} {slider.value}" for slider in sliders.values())
        return f"{settings}: {pattern_line(pattern_mask(length, **{k: s.value for k, s in sliders.items()}))}"

    def update(*_) -> None:
        mask = pattern_mask(length, **{name: slider.value for name, slider in sliders.items()})
        shown.value = f"<b>{html.escape(pattern_line(mask))}</b>"
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.imshow(mask.numpy(), cmap="Greens", vmin=0, vmax=1.4, interpolation="nearest")
        ax.set_xlabel("key"), ax.set_ylabel("query")
        png = io.BytesIO()
        fig.savefig(png, format="png", bbox_inches="tight")
        plt.close(fig)
        picture.value = png.getvalue()

    for slider in sliders.values():
        slider.observe(update, names="value")
    update()
    return panel([widgets.HBox([widgets.VBox([*sliders.values(), shown]), picture])], reading)


def footprint_calculator(parameters: float = 7e9, tokens: float = 2e12):
    """Model size, training tokens, accelerator, country and PUE in; FLOPs, hours, energy, CO2eq and the cloud
    rent out (`greenlab.measurement.footprint.estimate` and `cost_line`). Parameters and tokens are number boxes, so the
    calculator computes with exactly the values it was given or a learner types (a log slider would round them
    to its steps)."""
    widgets = require("ipywidgets", extra="lab")
    from greenlab.measurement import footprint

    controls = {
        "parameters": widgets.FloatText(parameters, description="parameters"),
        "tokens": widgets.FloatText(tokens, description="training tokens"),
        "hardware": widgets.Dropdown(options=footprint.priced_hardware(), value="A100", description="hardware"),
        "country": widgets.Dropdown(options=["SWE", "FRA", "CAN", "BRA", "GBR", "USA", "DEU", "CHN", "IND", "AUS"],
                                    value="USA", description="grid of"),
        "pue": widgets.FloatSlider(1.1, min=1.0, max=2.0, step=0.05, description="PUE"),
        "utilization": widgets.FloatSlider(footprint.DEFAULT_UTILIZATION, min=0.05, max=0.8, step=0.05,
                                           description="utilization"),
    }
    for control in controls.values():
        control.style = LABEL_STYLE
    shown = widgets.HTML()

    def reading() -> str:
        try:
            estimate = footprint.estimate(**{name: control.value for name, control in controls.items()})
        except ValueError as error:
            return f"cannot estimate: {error}"
        return f"{estimate}\n{footprint.cost_line(estimate)}"

    def update(*_) -> None:
        shown.value = f"<pre style='white-space:pre-wrap;word-break:normal'>{html.escape(reading())}</pre>"

    for control in controls.values():
        control.observe(update, names="value")
    update()
    return panel([*controls.values(), shown], reading)


def completion_line(done, watts: float) -> str:
    """A completion's cost: its tokens, their speed, and its energy estimated as time × the given average power."""
    return (f"{done.tokens} tokens in {done.seconds:.2f} s ({done.tokens_per_s:.0f} tokens/s) · "
            f"≈ {done.seconds * watts:.2f} J (estimated: time × the {watts:.1f} W measured while generating)")


def writing_assistant(model, tokenizer, prompt: str, watts: float, new_tokens: int = 40):
    """A prompt box, sliders for temperature, top-k and top-p, and a "complete" button; shows the completion, its
    tokens per second and its energy, estimated as its time × `watts` (a power measured over many completions:
    one completion is too short for the energy tracker)."""
    widgets = require("ipywidgets", extra="lab")
    from greenlab.applications.assistant import complete

    box = widgets.Textarea(value=prompt, layout=widgets.Layout(width="100%", height="60px"))
    controls = {
        "temperature": widgets.FloatSlider(0.8, min=0.0, max=1.5, step=0.05, description="temperature (0: greedy)"),
        "top_k": widgets.IntSlider(0, min=0, max=200, description="top-k (0: off)"),
        "top_p": widgets.FloatSlider(1.0, min=0.05, max=1.0, step=0.05, description="top-p (1: off)"),
    }
    for control in controls.values():
        control.style = LABEL_STYLE
    button = widgets.Button(description="complete", button_style="success")
    shown = widgets.HTML()
    state = {"reading": "press complete"}
    draws = iter(range(1 << 62))  # each press draws with the next seed: the same sequence in every session

    def press(*_) -> None:
        try:
            done = complete(model, tokenizer, box.value, new_tokens, temperature=controls["temperature"].value,
                            top_k=controls["top_k"].value or None,
                            top_p=controls["top_p"].value if controls["top_p"].value < 1 else None, seed=next(draws))
        except ValueError as error:
            state["reading"] = f"cannot complete: {error}"
            shown.value = f"<b>{html.escape(state['reading'])}</b>"
            return
        state["reading"] = f"{done.prompt}[{done.text}]\n{completion_line(done, watts)}"
        shown.value = (f"<pre style='white-space:pre-wrap;word-break:normal'>{html.escape(done.prompt)}"
                       f"<b style='color:#2a8f4a'>{html.escape(done.text)}</b></pre>"
                       f"<small>{html.escape(completion_line(done, watts))}</small>")

    button.on_click(press)
    press()
    return panel([box, *controls.values(), button, shown], lambda: state["reading"])
