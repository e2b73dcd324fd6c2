"""`greenlab report`: the course's headline experiments, run headless, written up as one Markdown report.

    greenlab report --quick            # about 3 minutes on 2 cores (5 at most), into ./greenlab-report/

It runs, with progress bars and every run measured into the green ledger: the tokenizer comparison (ours against
Hugging Face `tokenizers`), the reference model (from the zoo: cached, or trained now), dense against sparse
attention (kernel timings, and the sliding-window model in the full report), distillation (a student from scratch
against one distilled from the teacher's weights) and int8 quantization. It writes `report.md` with the results,
the ledger of this run, the course's own footprint when the test run has measured it, a Pareto plot of quality
against inference energy (`pareto.png`) and a statement of how energy was obtained on this machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from greenlab import ledger, zoo
from greenlab.attention.scaling import compare_times, ratios
from greenlab.compress import generation_cost, quantize_int8, size_on_disk
from greenlab.data import load_corpus
from greenlab.distill import DistillConfig, calibration_batch, distill, half_size, init_from_teacher
from greenlab.energy import measure
from greenlab.machine import energy_counters, energy_sensor
from greenlab.model import GPT
from greenlab.plots import plot_pareto
from greenlab.settings import country
from greenlab.tokenizer import BPETokenizer
from greenlab.tokenizer.huggingface import token_agreement, train_hf_bpe
from greenlab.train import TrainConfig, bits_per_character, evaluate, train


@dataclass(frozen=True)
class Scale:
    """How big each experiment is."""

    vocab_size: int = 4096
    attention_lengths: tuple[int, ...] = (1024, 2048, 4096)
    sliding_window_model: bool = True
    student_steps: int = 300
    reference: str = "reference"  # the zoo recipe used as the teacher


FULL = Scale()
QUICK = Scale(vocab_size=1024, attention_lengths=(1024, 4096), sliding_window_model=False, student_steps=60)


def _table(rows: dict[str, dict]) -> str:
    return pd.DataFrame(rows).T.to_markdown(floatfmt=".3g")


def run(folder: str | Path = "greenlab-report", scale: Scale = FULL, progress: bool = True) -> Path:
    """Run the experiments at `scale` and write `report.md` (and `pareto.png`) into `folder`; return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    sections: list[str] = []
    steps = tqdm(total=5, desc="greenlab report", disable=not progress)

    corpus = load_corpus()
    with measure(f"report: train BPE {scale.vocab_size}") as ours_cost:
        ours = BPETokenizer.train(corpus.train_text, scale.vocab_size)
    with measure(f"report: train HF BPE {scale.vocab_size}") as theirs_cost:
        theirs = train_hf_bpe(corpus.train_text, scale.vocab_size)
    our_ids, their_ids = ours.encode(corpus.validation_text), theirs.encode(corpus.validation_text).ids
    agreement = token_agreement(ours, our_ids, theirs, their_ids) / max(len(our_ids), len(their_ids))
    sections.append("## Tokenization\n\n" + _table({
        "greenlab BPE": {"train (s)": ours_cost.duration_s, "energy (J)": ours_cost.energy_j,
                         "validation tokens": len(our_ids)},
        "Hugging Face tokenizers": {"train (s)": theirs_cost.duration_s, "energy (J)": theirs_cost.energy_j,
                                    "validation tokens": len(their_ids)}})
        + f"\n\nToken agreement on the validation text: {agreement:.2%}.")
    steps.update()

    reference = zoo.load(scale.reference, progress=progress)
    teacher, tokenizer = reference.model, reference.tokenizer
    train_ids = torch.tensor(tokenizer.encode(corpus.train_text))
    val_ids = torch.tensor(tokenizer.encode(corpus.validation_text))
    evaluation = TrainConfig(batch_size=16, block_size=teacher.config.block_size, eval_batches=4)

    def bits_per_char(model: torch.nn.Module) -> float:
        return bits_per_character(evaluate(model, val_ids, evaluation), len(val_ids), len(corpus.validation_text))

    cost = reference.history["measurement"]
    teacher_bpc = bits_per_char(teacher)
    sections.append("## The reference model\n\n" + _table({reference.recipe.name: {
        "parameters": teacher.num_parameters(), "bits/char": teacher_bpc, "training (s)": cost["duration_s"],
        "training energy (J)": cost["energy_j"], "trained now": reference.trained_now}})
        + f"\n\n{reference.recipe.description}.")
    steps.update()

    times = compare_times(list(scale.attention_lengths), window=256)
    speedups = ratios(times)
    attention = {f"L={n}": {"causal SDPA (ms)": times["causal SDPA"][n] * 1000,
                            "blocked window 256 (ms)": times["blocked"][n] * 1000,
                            "speedup": speedups["blocked"][n]} for n in scale.attention_lengths}
    text = "## Dense against sparse attention\n\nForward + backward, batch 1, 4 heads, head dim 64:\n\n" + _table(attention)
    if scale.sliding_window_model:
        windowed = zoo.load("sliding-window", progress=progress)
        windowed_bpc = bits_per_char(windowed.model)
        generation_cost(windowed.model, "sliding-window (notebook 03)", windowed_bpc)
        text += (f"\n\nThe reference recipe with a 32-token window: {windowed_bpc:.3f} bits/char against "
                 f"{teacher_bpc:.3f} dense.")
    sections.append(text)
    steps.update()

    schedule = TrainConfig(steps=scale.student_steps, batch_size=16, block_size=teacher.config.block_size,
                           learning_rate=3e-3, min_learning_rate=3e-4, warmup_steps=max(1, scale.student_steps // 10),
                           eval_interval=scale.student_steps, eval_batches=4)
    torch.manual_seed(0)
    scratch = GPT(half_size(teacher.config))
    scratch_run = train(scratch, train_ids, val_ids, schedule, label="report: student from scratch", progress=progress)
    calibration = calibration_batch(train_ids, teacher.config.block_size)
    student = init_from_teacher(teacher, half_size(teacher.config), calibration)
    distilled_run = distill(student, teacher, train_ids, val_ids, schedule, DistillConfig(2.0, 0.5),
                            label="report: student distilled from teacher init", progress=progress)
    models = {"teacher (reference)": (teacher, cost["energy_j"]),
              "student: scratch": (scratch, scratch_run.measurement.energy_j),
              "student: distilled, teacher init": (student, distilled_run.measurement.energy_j)}
    rows = {}
    for name, (model, training_j) in models.items():
        bpc = bits_per_char(model)
        generated = generation_cost(model, name, bpc)
        rows[name] = {"parameters": model.num_parameters(), "bits/char": bpc, "quality retained": teacher_bpc / bpc,
                      "tokens/s": generated.tokens_per_s, "J per 1k tokens": generated.joules_per_1k_tokens,
                      "training energy (J)": training_j}
    sections.append(f"## Distillation\n\n{scale.student_steps} steps each, batch 16:\n\n" + _table(rows))
    steps.update()

    rows = {}
    for name, model in (("teacher", teacher), ("teacher int8", quantize_int8(teacher))):
        bpc = bits_per_char(model)
        generated = generation_cost(model, name if name != "teacher" else "teacher (reference)", bpc,
                                    record=name != "teacher")
        rows[name] = {"MB on disk": size_on_disk(model)[0] / 1e6, "bits/char": bpc,
                      "tokens/s": generated.tokens_per_s, "J per 1k tokens": generated.joules_per_1k_tokens}
    sections.append("## Quantization\n\n" + _table(rows))
    steps.update()
    steps.close()

    figure = plot_pareto(ledger.models())
    figure.savefig(folder / "pareto.png", dpi=120)
    this_run = ledger.table(this_session=True)
    notebooks = ledger.load()
    notebooks = notebooks[notebooks["label"].astype(str).str.startswith("notebook: ")].drop_duplicates("label", keep="last")
    footprint = ("The test run (`make test`) has not measured the notebooks on this machine yet."
                 if notebooks.empty else _footprint_text(notebooks))
    counters = "; ".join(f"{k}: {v}" for k, v in energy_counters().items())
    header = (f"# GreenLab report\n\n{'Quick' if scale == QUICK else 'Full'} run, {time.strftime('%Y-%m-%d %H:%M')}, "
              f"{time.perf_counter() - started:.0f} s in all. Grid: {country()}.\n\n"
              f"**How energy was obtained here:** {energy_sensor()}. Hardware counters: {counters}.\n")
    body = "\n\n".join(sections)
    ledger_text = ("## Quality against inference energy\n\n![Pareto plot](pareto.png)\n\n"
                   "## This run in the green ledger\n\n" + this_run.to_markdown(index=False, floatfmt=".3g")
                   + "\n\n## The course's own footprint\n\n" + footprint + "\n")
    path = folder / "report.md"
    path.write_text(f"{header}\n{body}\n\n{ledger_text}", encoding="utf-8")
    return path


def _footprint_text(notebooks: pd.DataFrame) -> str:
    total_j, total_g = notebooks["energy_j"].sum(), notebooks["co2eq_kg"].sum() * 1000
    rows = notebooks[["label", "duration_s", "energy_j", "co2eq_kg", "method"]].copy()
    rows["co2eq_kg"] *= 1000
    rows.columns = ["notebook", "time (s)", "energy (J)", "CO2eq (g)", "how energy was obtained"]
    return (f"Running every notebook and lab once, as measured by the last test run: {total_j / 1000:.1f} kJ, "
            f"{total_g:.2f} g CO2eq.\n\n" + rows.to_markdown(index=False, floatfmt=".3g"))
