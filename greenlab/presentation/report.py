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

from greenlab.experiments.attention_scaling import compare_times, ratios
from greenlab.experiments.generation_cost import generation_cost
from greenlab.experiments.model_comparison import compare_models
from greenlab.measurement import ledger
from greenlab.foundations.data import Corpus, load_corpus
from greenlab.measurement.energy import measure
from greenlab.foundations.settings import country
from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.foundations.tokenizer.huggingface import token_agreement, train_hf_bpe
from greenlab.models.gpt import GPT
from greenlab.measurement.counters import energy_counters, energy_sensor
from greenlab.presentation.plots import plot_pareto
from greenlab.training import zoo
from greenlab.training.compress import quantize_int8, size_on_disk
from greenlab.training.distill import (COURSE_DISTILLATION, calibration_batch, distill, half_size, init_from_teacher,
                                       student_schedule)
from greenlab.training.train import text_bits_per_character, train


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


def _table(rows: dict[str, dict] | pd.DataFrame) -> str:
    """A Markdown table, one row per entry of `rows` (a dict of dicts, or a table)."""
    table = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows).T
    return table.to_markdown(floatfmt=".3g")


class _Teacher:
    """The reference model with its data, and the one quality measure every section uses."""

    def __init__(self, scale: Scale, corpus: Corpus, progress: bool):
        self.pretrained = zoo.load(scale.reference, progress=progress)
        self.model, tokenizer = self.pretrained.model, self.pretrained.tokenizer
        self.train_ids = torch.tensor(tokenizer.encode(corpus.train_text))
        self.val_ids = torch.tensor(tokenizer.encode(corpus.validation_text))
        self.characters = len(corpus.validation_text)
        self.bits_per_char = self.quality(self.model)

    def quality(self, model: torch.nn.Module) -> float:
        """Bits per character on the whole held-out text."""
        return text_bits_per_character(model, self.val_ids, self.characters, model.config.block_size)


def tokenization(corpus: Corpus, scale: Scale) -> str:
    with measure(f"report: train BPE {scale.vocab_size}") as ours_cost:
        ours = BPETokenizer.train(corpus.train_text, scale.vocab_size)
    with measure(f"report: train HF BPE {scale.vocab_size}") as theirs_cost:
        theirs = train_hf_bpe(corpus.train_text, scale.vocab_size)
    our_ids, their_ids = ours.encode(corpus.validation_text), theirs.encode(corpus.validation_text).ids
    agreement = token_agreement(ours, our_ids, theirs, their_ids) / max(len(our_ids), len(their_ids))
    return "## Tokenization\n\n" + _table({
        "greenlab BPE": {"train (s)": ours_cost.duration_s, "energy (J)": ours_cost.energy_j,
                         "validation tokens": len(our_ids)},
        "Hugging Face tokenizers": {"train (s)": theirs_cost.duration_s, "energy (J)": theirs_cost.energy_j,
                                    "validation tokens": len(their_ids)}}) + \
        f"\n\nToken agreement on the validation text: {agreement:.2%}."


def reference_model(teacher: _Teacher) -> str:
    cost = teacher.pretrained.history["measurement"]
    return "## The reference model\n\n" + _table({teacher.pretrained.recipe.name: {
        "parameters": teacher.model.num_parameters(), "bits/char": teacher.bits_per_char,
        "training (s)": cost["duration_s"], "training energy (J)": cost["energy_j"],
        "trained now": teacher.pretrained.trained_now}}) + f"\n\n{teacher.pretrained.recipe.description}."


def sparse_attention(teacher: _Teacher, scale: Scale, progress: bool) -> str:
    times = compare_times(list(scale.attention_lengths), window=256)
    speedups = ratios(times)
    text = "## Dense against sparse attention\n\nForward + backward, batch 1, 4 heads, head dim 64:\n\n" + _table({
        f"L={n}": {"causal SDPA (ms)": times["causal SDPA"][n] * 1000,
                   "blocked window 256 (ms)": times["blocked"][n] * 1000, "speedup": speedups["blocked"][n]}
        for n in scale.attention_lengths})
    if scale.sliding_window_model:
        windowed = zoo.load("sliding-window", progress=progress).model
        quality = teacher.quality(windowed)
        generation_cost(windowed, "sliding-window (notebook 03)", quality)
        text += (f"\n\nThe reference recipe with a {windowed.config.window}-token window: {quality:.3f} bits/char "
                 f"against {teacher.bits_per_char:.3f} dense.")
    return text


def distillation(teacher: _Teacher, scale: Scale, progress: bool) -> str:
    config = half_size(teacher.model.config)
    schedule = student_schedule(scale.student_steps, config.block_size)
    torch.manual_seed(0)
    scratch = GPT(config)
    scratch_run = train(scratch, teacher.train_ids, teacher.val_ids, schedule, label="report: student from scratch",
                        progress=progress)
    student = init_from_teacher(teacher.model, config, calibration_batch(teacher.train_ids, config.block_size))
    distilled_run = distill(student, teacher.model, teacher.train_ids, teacher.val_ids, schedule,
                            COURSE_DISTILLATION, label="report: student distilled from teacher init",
                            progress=progress)
    models = {"teacher (reference)": (teacher.model, teacher.pretrained.history["measurement"]["energy_j"]),
              "student: scratch": (scratch, scratch_run.measurement.energy_j),
              "student: distilled, teacher init": (student, distilled_run.measurement.energy_j)}
    table = compare_models(models, teacher.val_ids, teacher.characters, baseline="teacher (reference)")
    return f"## Distillation\n\n{scale.student_steps} steps each, batch 16:\n\n" + _table(table)


def quantization(teacher: _Teacher) -> str:
    rows = {}
    for name, model in (("teacher (reference)", teacher.model), ("teacher int8", quantize_int8(teacher.model))):
        quality = teacher.quality(model)
        generated = generation_cost(model, name, quality, record=model is not teacher.model)  # recorded above
        rows[name] = {"MB on disk": size_on_disk(model)[0] / 1e6, "bits/char": quality,
                      "tokens/s": generated.uses_per_s, "J per 1k tokens": generated.joules_per_1000}
    return "## Quantization\n\n" + _table(rows)


def course_footprint() -> str:
    """The latest whole-machine measurement of each notebook and lab, as recorded by the test run."""
    runs = ledger.load()
    runs = runs[runs["label"].astype(str).str.startswith("notebook: ")].drop_duplicates("label", keep="last")
    if runs.empty:
        return "The test run (`make test`) has not measured the notebooks on this machine yet."
    runs = ledger.with_energy_parts(runs)
    shown = runs[["label", "duration_s", "energy_j", "static_j", "dynamic_j", "co2eq_kg", "method"]].copy()
    shown.insert(3, "range", [ledger.energy_range(run) for run in runs.itertuples()])
    shown["co2eq_kg"] *= 1000
    shown.columns = ["notebook", "time (s)", "energy (J)", "range (J)", "static (J)", "dynamic (J)", "CO2eq (g)",
                     "how energy was obtained"]
    return (f"Running every notebook and lab once, as measured by the last test run: "
            f"{runs['energy_j'].sum() / 1000:.1f} kJ (each row's range, given how its energy was obtained, is in "
            f"the table; static {runs['static_j'].sum() / 1000:.1f} kJ: the RAM model, "
            f"charged for time; dynamic {runs['dynamic_j'].sum() / 1000:.1f} kJ: CPU and GPU, which follow the work), "
            f"{runs['co2eq_kg'].sum() * 1000:.2f} g CO2eq.\n\n" + shown.to_markdown(index=False, floatfmt=".3g"))


def run(folder: str | Path = "greenlab-report", scale: Scale = FULL, progress: bool = True) -> Path:
    """Run the experiments at `scale` and write `report.md` (and `pareto.png`) into `folder`; return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    corpus = load_corpus()
    with tqdm(total=5, desc="greenlab report", disable=not progress) as bar:
        sections = [tokenization(corpus, scale)]
        bar.update()
        teacher = _Teacher(scale, corpus, progress)
        sections.append(reference_model(teacher))
        bar.update()
        sections.append(sparse_attention(teacher, scale, progress))
        bar.update()
        sections.append(distillation(teacher, scale, progress))
        bar.update()
        sections.append(quantization(teacher))
        bar.update()

    plot_pareto(ledger.models()).savefig(folder / "pareto.png", dpi=120)
    counters = "; ".join(f"{k}: {v}" for k, v in energy_counters().items())
    header = (f"# GreenLab report\n\n{'Quick' if scale == QUICK else 'Full'} run, {time.strftime('%Y-%m-%d %H:%M')}, "
              f"{time.perf_counter() - started:.0f} s in all. Grid: {country()}.\n\n"
              f"**How energy was obtained here:** {energy_sensor()}. Hardware counters: {counters}.\n")
    closing = ("## Quality against inference energy\n\n![Pareto plot](pareto.png)\n\n"
               "## This run in the green ledger\n\n"
               + ledger.table(this_session=True).to_markdown(index=False, floatfmt=".3g")
               + "\n\n## The course's own footprint\n\n" + course_footprint() + "\n")
    path = folder / "report.md"
    path.write_text(header + "\n" + "\n\n".join(sections) + "\n\n" + closing, encoding="utf-8")
    return path
