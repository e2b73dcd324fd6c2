"""Figures the notebooks share. Each returns its matplotlib Figure, so it also renders on GitHub."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

PALETTE = ["#fde2a7", "#c6e5b1", "#b7d7f0", "#f5c3c0", "#dcc9ef", "#c9ece7"]


def visible(piece: str) -> str:
    """A token's text with its whitespace made visible: space ␣, newline ↵, tab →."""
    return piece.replace(" ", "␣").replace("\n", "↵").replace("\t", "→")


def plot_tokens(pieces: list[str], ids: list[int] | None = None, chars_per_line: int = 70,
                title: str = "") -> Figure:
    """Each token as a coloured box (its id below it), wrapped into lines: a static view of a tokenization."""
    placed, line, column = [], 0, 0
    for i, piece in enumerate(pieces):
        width = max(2, len(visible(piece)))
        if column and column + width > chars_per_line:
            line, column = line + 1, 0
        placed.append((visible(piece), column, line, width, ids[i] if ids is not None else None))
        column += width + 1
    lines = line + 1
    fig, ax = plt.subplots(figsize=(chars_per_line * 0.09, 0.42 * lines + 0.4))
    for k, (text, x, y, width, token_id) in enumerate(placed):
        ax.add_patch(plt.Rectangle((x, -y - 0.62), width, 0.62, color=PALETTE[k % len(PALETTE)]))
        ax.text(x + width / 2, -y - 0.3, text, ha="center", va="center", family="monospace", fontsize=9)
        if token_id is not None:
            ax.text(x + width / 2, -y - 0.82, str(token_id), ha="center", va="center", fontsize=6, color="0.35")
    ax.set_xlim(-0.5, chars_per_line + 0.5)
    ax.set_ylim(-lines - 0.1, 0.1)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    fig.tight_layout()
    return fig


def plot_training(history: dict, title: str = "") -> Figure:
    """Training loss at every step and validation loss at each evaluation, against steps."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot(range(1, len(history["train_losses"]) + 1), history["train_losses"], lw=0.8, alpha=0.6, label="train")
    points = history["validation"]
    ax.plot([p["step"] for p in points], [p["val_loss"] for p in points], "o-", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per token)")
    ax.set_title(title, fontsize=10)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_attention(maps: "torch.Tensor", tokens: list[str], layer: int) -> Figure:
    """One layer's attention weights, a heatmap per head: row = the token that looks, column = where it looks."""
    heads = maps.shape[1]
    fig, axes = plt.subplots(1, heads, figsize=(3.2 * heads, 3.4), squeeze=False)
    axes = axes[0]
    labels = [visible(t) for t in tokens]
    for head, ax in enumerate(axes):
        ax.imshow(maps[layer, head], cmap="Greens", vmin=0, vmax=1)
        ax.set_title(f"layer {layer}, head {head}", fontsize=9)
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7, family="monospace")
        ax.set_yticks(range(len(labels)), labels if head == 0 else [], fontsize=7, family="monospace")
    fig.tight_layout()
    return fig


def plot_masks(masks: dict[str, "torch.Tensor"], columns: int = 3) -> Figure:
    """Attention patterns side by side: a dark cell is a (query row, key column) pair that is computed."""
    rows = -(-len(masks) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.1 * columns, 3.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (name, mask) in zip(axes.flat, masks.items()):
        ax.imshow(mask, cmap="Greens", vmin=0, vmax=1.4, interpolation="nearest")
        ax.set_title(f"{name}\ndensity {mask.float().mean():.1%}", fontsize=9)
        ax.set_xlabel("key", fontsize=8)
        ax.set_ylabel("query", fontsize=8)
        ax.set_xticks([]), ax.set_yticks([])
        ax.axis("on")
    fig.tight_layout()
    return fig


def plot_scaling(results: dict[str, dict[int, float]], ylabel: str, title: str = "",
                 reference_slopes: tuple[int, ...] = (1, 2)) -> Figure:
    """Cost against sequence length on log-log axes, one line per kernel; dotted guides of slope 1 (linear) and
    2 (quadratic) through the first point of the first kernel."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for name, row in results.items():
        points = [(n, value) for n, value in row.items() if value is not None]
        ax.plot(*zip(*points), "o-", label=name)
    first = next(iter(results.values()))
    n0, y0 = next(iter(first.items()))
    lengths = sorted({n for row in results.values() for n in row})
    for slope in reference_slopes:
        ax.plot(lengths, [y0 * (n / n0) ** slope for n in lengths], ":", color="grey", lw=1)
        ax.annotate({1: "∝ n", 2: "∝ n²"}.get(slope, f"∝ n^{slope}"), (lengths[-1], y0 * (lengths[-1] / n0) ** slope),
                    fontsize=8, color="grey")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length n (tokens)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_pareto(models: "pd.DataFrame", title: str = "Quality against inference energy") -> Figure:
    """Bits per character (lower is better) against joules per 1,000 generated tokens, one point per model;
    the models that no other beats on both axes (the Pareto front) are joined by a line."""
    models = models.dropna(subset=["bits_per_char", "joules_per_1k_tokens"]).sort_values("joules_per_1k_tokens")
    fig, ax = plt.subplots(figsize=(6.8, 4.0))
    ax.scatter(models["joules_per_1k_tokens"], models["bits_per_char"], color="#2a8f4a", zorder=3)
    for _, row in models.iterrows():
        ax.annotate(row["model"], (row["joules_per_1k_tokens"], row["bits_per_char"]), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
    front, best = [], float("inf")
    for _, row in models.iterrows():
        if row["bits_per_char"] < best:
            front.append(row)
            best = row["bits_per_char"]
    if front:
        ax.plot([r["joules_per_1k_tokens"] for r in front], [r["bits_per_char"] for r in front], "--",
                color="grey", lw=1, label="Pareto front")
        ax.legend(fontsize=8)
    ax.set_xlabel("energy per 1,000 generated tokens (J)")
    ax.set_ylabel("bits per character (lower is better)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_quality_energy(points: "pd.DataFrame", energy: str, title: str = "Quality against energy per use") -> Figure:
    """One point per method: `quality (%)` (higher is better) against the column `energy` (joules per use, on a log
    axis), coloured by `application`. Within each application, the methods that no other of its methods beats on
    both axes (its Pareto front) are joined by a dashed line: methods of different jobs do not compete."""
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    colours = {application: f"C{k}" for k, application in enumerate(dict.fromkeys(points["application"]))}
    offsets = [(5, 3), (5, -11), (5, 14), (5, -22), (5, 25)]  # neighbours' labels staggered, in order of energy
    for j, (_, row) in enumerate(points.sort_values(energy).iterrows()):
        ax.annotate(row["method"], (row[energy], row["quality (%)"]), fontsize=7, color=colours[row["application"]],
                    xytext=offsets[j % len(offsets)], textcoords="offset points")
    for application, group in points.groupby("application", sort=False):
        k = colours[application]
        group = group.sort_values([energy, "quality (%)"], ascending=[True, False])
        ax.scatter(group[energy], group["quality (%)"], color=k, zorder=3, label=application)
        front, best = [], -float("inf")
        for _, row in group.iterrows():
            if row["quality (%)"] > best:
                front.append(row)
                best = row["quality (%)"]
        ax.plot([r[energy] for r in front], [r["quality (%)"] for r in front], "--", color=k, lw=1)
    ax.set_xscale("log")
    ax.set_xlabel(f"{energy} (log scale)")
    ax.set_ylabel("quality (%; higher is better)")
    ax.set_title(f"{title} (dashed: each job's Pareto front)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
