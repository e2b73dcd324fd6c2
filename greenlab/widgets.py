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
