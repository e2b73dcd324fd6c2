"""The notebooks' widgets as a learner meets them: JupyterLab in a real browser (Debian's Chromium, driven by
Playwright), each notebook opened, its cells run up to the widget, each control moved with the mouse or the
keyboard, and the widget's output compared with what Python computes for the values the controls show.

nbval only compares a widget's text form; this catches what it cannot: a control that snaps the value it was
given, a label cut off, an output that no longer follows its controls, a JavaScript error. It runs on a copy of
`notebooks/` (the committed notebooks are never saved over), with its own server on a loopback port and a token,
and saves a screenshot of the page in `test-screenshots/` when a check fails.

Needs Chromium (`make install` installs Debian's package where it is missing) and the `playwright` package; it
uses the installed Chromium, never a downloaded browser. Without Chromium the tests are skipped, unless
GREENLAB_REQUIRE_BROWSER=1 (CI) makes that a failure.

GREENLAB_FRONT_END=notebook6 runs the same checks in the classic Notebook 6.5 with ipywidgets 7, the front end and
widgets closest to Colab's that run here (Colab's own front end needs Colab): in an environment with Colab's
versions (colab/requirements.txt), where `notebook` and `widgetsnbextension` come with them."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from greenlab.measurement import footprint
from greenlab.foundations.data import load_corpus
from greenlab.foundations.tokenizer import CharTokenizer, WordTokenizer
from greenlab.presentation.quiz import LETTERS, answer, quiz
from greenlab.presentation.widgets import pattern_line, pattern_mask, token_count_line

ROOT = Path(__file__).resolve().parents[2]  # the repository, above tests/presentation/
SCREENSHOTS = ROOT / "test-screenshots"
UPDATE_SECONDS = 10  # a widget round trip takes well under a second; this only bounds a broken one
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-quic"]
LAB_SETTINGS = {  # every cell in the page (no virtual scrolling), nothing saved, nothing fetched from the internet
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}
FRONT_END = os.environ.get("GREENLAB_FRONT_END", "lab")  # "lab": JupyterLab 4; "notebook6": the classic Notebook
SLIDER = {"lab": (".noUi-target", ".noUi-handle"),  # (track, handle): ipywidgets 8 draws noUiSlider, 7 jQuery UI's
          "notebook6": (".ui-slider", ".ui-slider-handle")}[FRONT_END]
OFFLINE_ONLY = ("colab.research.google.com", "colab-badge")  # the Open in Colab badge, an image from the internet


def chromium() -> str:
    """The browser's path, or a skip (a failure where GREENLAB_REQUIRE_BROWSER is set) saying how to get it."""
    chosen = os.environ.get("GREENLAB_CHROMIUM")
    if chosen and not os.access(chosen, os.X_OK):
        pytest.fail(f"GREENLAB_CHROMIUM={chosen!r} is not an executable file")
    found = chosen or shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        found, why = None, "the playwright package is not installed: pip install -e '.[test]'"
    else:
        why = "no Chromium found: apt-get install chromium, or set GREENLAB_CHROMIUM to a Chromium binary"
    if found:
        return found
    if os.environ.get("GREENLAB_REQUIRE_BROWSER"):
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A JupyterLab server on a copy of the notebooks: (its address with the token, the copy's root folder)."""
    chromium()
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    settings = root / ".settings"
    for plugin, values in LAB_SETTINGS.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = secrets.token_hex(16)
    log = open(root / "server.log", "w")
    if FRONT_END == "lab":
        command = ["jupyterlab", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    else:
        command = ["notebook", f"--NotebookApp.token={token}", f"--notebook-dir={root}"]
    server = subprocess.Popen(
        [sys.executable, "-m", command[0], "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         *command[1:]],
        env=dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(root / ".ws")),
        stdout=log, stderr=subprocess.STDOUT)
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{address}/api/status?token={token}", timeout=5)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not start: {(root / 'server.log').read_text()[-2000:]}")
                time.sleep(0.3)
        yield f"{address}/{'lab/tree' if FRONT_END == 'lab' else 'notebooks'}/{{}}?token={token}", root
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chrome = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        yield chrome
        chrome.close()


@pytest.fixture
def page(browser):
    """A fresh page that records JavaScript errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(f"uncaught: {error}"))
    page.on("console", lambda message: message.type == "error" and page.errors.append(
        f"console: {message.text} ({message.location.get('url', '')})"))
    yield page
    context.close()


@contextmanager
def screenshot_on_failure(page, name: str) -> Iterator[None]:
    """Save the page as test-screenshots/NAME.png when the block fails, and fail on any JavaScript error but the
    offline Colab badge's."""
    try:
        yield
        errors = [e for e in page.errors if not any(word in e for word in OFFLINE_ONLY)]
        assert not errors, f"JavaScript errors in the page: {errors}"
    except BaseException:
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
        raise


def open_widget(page, lab, notebook: str, code: str, widget_selector: str):
    """Open `notebook` in the front end, clear its outputs, run every cell above the one containing `code`, then
    that cell, as a learner would from the menus; returns the cell's output area once the widget is drawn."""
    address, _ = lab
    if FRONT_END == "lab":
        page.goto(address.format(notebook) + "&reset")  # a fresh workspace: only this notebook open
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").filter(visible=True).first.wait_for(
            timeout=60_000)  # the kernel has started
        menu(page, "Edit", "Clear Outputs of All Cells")
        notebook_panel = page.locator(".jp-NotebookPanel").filter(visible=True)
        cell = notebook_panel.locator(".jp-CodeCell").filter(has_text=code).first
        cell.locator(".jp-InputArea-prompt").click()
        menu(page, "Run", "Run All Above Selected Cell")
        menu(page, "Run", "Run Selected Cell and Do not Advance")
        output = cell.locator(".jp-Cell-outputArea")
    else:  # the classic Notebook: its Cell menu
        page.goto(address.format(notebook))
        page.locator("#kernel_indicator_icon.kernel_idle_icon").wait_for(timeout=60_000)
        classic_menu(page, "#all_outputs", "#clear_all_output")
        cell = page.locator(".cell.code_cell").filter(has_text=code).first
        cell.locator(".input_prompt").click()
        classic_menu(page, "#run_all_cells_above")  # it leaves the cell above selected
        cell.locator(".input_prompt").click()
        classic_menu(page, "#run_cell")
        output = cell.locator(".output_wrapper")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        output.locator(widget_selector).first.wait_for(timeout=170_000)  # a notebook's budget: 180 s
    except PlaywrightTimeout:
        failures = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'], "
                                ".output_stderr")
        raise AssertionError(f"{notebook}: the widget did not appear; errors shown: "
                             f"{[failures.nth(i).inner_text()[-500:] for i in range(failures.count())]}") from None
    return output


def menu(page, name: str, item: str) -> None:
    """Choose `item` from the menu bar's `name` menu (a disabled item leaves the menu open: Escape closes it)."""
    page.keyboard.press("Escape")
    page.locator(".lm-MenuBar-itemLabel", has_text=name).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def classic_menu(page, *items: str) -> None:
    """Choose from the classic Notebook's Cell menu: each item in turn, a submenu first (by their element ids)."""
    page.keyboard.press("Escape")
    page.locator("#celllink").click()
    for item in items[:-1]:
        page.locator(item).hover()
    page.locator(items[-1]).click()


def control(output, label: str):
    """The control whose label reads `label`."""
    return output.locator(".widget-inline-hbox").filter(
        has=output.page.get_by_text(label, exact=True)).first


def drag_slider(output, label: str, fraction: float) -> None:
    """Drag a slider's handle with the mouse to `fraction` of its track."""
    row = control(output, label)
    track = row.locator(SLIDER[0]).bounding_box()
    handle = row.locator(SLIDER[1]).bounding_box()
    mouse = output.page.mouse
    mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    mouse.down()
    mouse.move(track["x"] + fraction * track["width"], track["y"] + track["height"] / 2, steps=8)
    mouse.up()


def readout(output, label: str) -> str:
    return control(output, label).locator(".widget-readout").inner_text().strip()


def type_into(box, text: str) -> None:
    """Select a text box's contents and type `text` over them, key by key, then leave the box, as a learner does."""
    box.click()
    box.press("ControlOrMeta+a")
    box.press_sequentially(text)
    box.press("Tab")


def follows(output, shown: str, move: Callable[[], None], expected: Callable[[], str], what: str) -> None:
    """Make a move, then wait until the output's text equals what Python computes for the controls' values; the
    move must change the output."""
    reading = output.locator(shown).first
    before = reading.inner_text().strip()
    move()
    deadline = time.monotonic() + UPDATE_SECONDS
    while True:
        want, now = expected(), reading.inner_text().strip()
        if now == want:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"after {what} the widget shows {now!r}; Python computes {want!r}")
        time.sleep(0.1)
    assert now != before, f"{what} did not change the output ({now!r})"


def labels_fit(output) -> None:
    """Every control's label is shown whole (not cut off with an ellipsis)."""
    cut = output.locator(".widget-label").evaluate_all(
        "labels => labels.filter(l => l.offsetParent && l.scrollWidth > l.clientWidth).map(l => l.textContent)")
    assert not cut, f"labels cut off at the notebook's width: {cut}"


def check_footprint_calculator(output) -> None:
    """The calculator starts at exactly the values it was given, and follows every control."""
    def number_box(label: str):
        return control(output, label).locator("input")

    def shown_inputs() -> dict:
        return {"parameters": float(number_box("parameters").input_value()),
                "tokens": float(number_box("training tokens").input_value()),
                "hardware": control(output, "hardware").locator("select").input_value(),
                "country": control(output, "grid of").locator("select").input_value(),
                "pue": float(readout(output, "PUE")), "utilization": float(readout(output, "utilization"))}

    def computed() -> str:
        estimate = footprint.estimate(**shown_inputs())
        return f"{estimate}\n{footprint.cost_line(estimate)}"

    assert shown_inputs()["parameters"] == 7e9 and shown_inputs()["tokens"] == 2e12
    text = output.locator("pre").first.inner_text().strip()
    assert text == computed(), f"the calculator starts at {text!r}; Python computes {computed()!r}"
    labels_fit(output)
    follows(output, "pre", lambda: type_into(number_box("parameters"), "1.3e9"), computed, "typing 1.3e9 parameters")
    assert shown_inputs()["parameters"] == 1.3e9
    follows(output, "pre", lambda: type_into(number_box("training tokens"), "26e9"), computed, "typing 26e9 tokens")
    follows(output, "pre", lambda: control(output, "hardware").locator("select").select_option("H100"),
            computed, "choosing the H100")
    follows(output, "pre", lambda: control(output, "grid of").locator("select").select_option("SWE"),
            computed, "choosing Sweden's grid")
    follows(output, "pre", lambda: drag_slider(output, "PUE", 0.6), computed, "dragging the PUE slider")
    follows(output, "pre", lambda: drag_slider(output, "utilization", 0.8), computed,
            "dragging the utilization slider")


def test_footprint_calculator_shows_what_python_computes(page, lab):
    with screenshot_on_failure(page, "footprint_calculator"):
        output = open_widget(page, lab, "notebooks/05_energy_and_carbon.ipynb", "footprint_calculator(parameters",
                             ".widget-text")
        check_footprint_calculator(output)


def test_pattern_explorer_follows_its_sliders(page, lab):
    with screenshot_on_failure(page, "pattern_explorer"):
        output = open_widget(page, lab, "notebooks/03_sparse_attention.ipynb", "pattern_explorer(length=64)",
                             ".widget-slider")
        labels = {"window": "window", "stride": "stride (0: off)", "n_global": "global tokens",
                  "n_random": "random blocks"}

        def computed() -> str:
            values = {name: int(readout(output, label)) for name, label in labels.items()}
            return pattern_line(pattern_mask(64, **values))

        assert output.locator(".widget-html b").first.inner_text() == computed()
        output.locator("img").first.wait_for(timeout=UPDATE_SECONDS * 1000)  # the mask, drawn by matplotlib
        labels_fit(output)
        for label, fraction in [("window", 0.5), ("stride (0: off)", 0.3), ("global tokens", 0.5),
                                ("random blocks", 1.0)]:
            follows(output, ".widget-html b", lambda: drag_slider(output, label, fraction), computed,
                    f"dragging the {label!r} slider")


def test_token_playground_follows_the_text_and_the_tokenizer(page, lab):
    with screenshot_on_failure(page, "token_playground"):
        output = open_widget(page, lab, "notebooks/01_tokenization.ipynb", "token_playground(tokenizers",
                             ".widget-textarea")
        train_text = load_corpus().train_text
        tokenizers = {"char": CharTokenizer(train_text), "word": WordTokenizer(train_text, max_words=10_000)}
        text = "Green AI: measure first, then make it smaller."
        chosen = output.locator(".widget-toggle-button.mod-active")

        def computed() -> str:
            typed = output.locator("textarea").input_value()
            return token_count_line(tokenizers[chosen.inner_text().strip()], typed)

        assert chosen.inner_text().strip() == "char"
        follows(output, ".widget-html b", lambda: type_into(output.locator("textarea"), text), computed,
                "typing a new text")
        follows(output, ".widget-html b", lambda: output.locator(".widget-toggle-button", has_text="word").click(),
                computed, "choosing the word tokenizer")


def one_cell_notebook(lab, name: str, source: str) -> str:
    """A notebook of one code cell, `source`, in the server's folder: its path there."""
    _, root = lab
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": source}],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    (root / "notebooks" / name).write_text(json.dumps(notebook))
    return f"notebooks/{name}"


def test_a_quiz_marks_what_a_learner_chooses_and_types(page, lab):
    """Each question of a quiz (chapter 07's: options and a number) marks a wrong reply, then a right one, as Python
    does. The quiz needs no cell above its own, so it runs alone here."""
    chapter = "07"
    notebook = one_cell_notebook(lab, "quiz.ipynb", f'from greenlab.presentation.quiz import show_quiz\n'
                                                     f'show_quiz("{chapter}")')
    with screenshot_on_failure(page, "quiz"):
        output = open_widget(page, lab, notebook, "show_quiz(", ".widget-button")
        questions = quiz(chapter)
        assert any(q.asks_a_number for q in questions) and any(not q.asks_a_number for q in questions)
        for number, question in enumerate(questions, 1):
            row = output.locator(".widget-vbox .widget-vbox").nth(number - 1)  # one box per question
            if question.asks_a_number:
                replies = [str(question.answer * 3 + 1), str(question.answer)]
            else:
                wrong = next(letter for letter in LETTERS if letter != question.answer)
                replies = [wrong, question.answer]
            for reply in replies:
                if question.asks_a_number:
                    type_into(row.locator("input"), reply)
                else:
                    row.get_by_text(f"{reply}) {question.options[LETTERS.index(reply)]}", exact=True).click()
                row.locator(".widget-button").click()
                want = repr(answer(chapter, number, reply))
                verdict = row.locator(".widget-html").last
                deadline = time.monotonic() + UPDATE_SECONDS
                while verdict.inner_text().strip() != want:
                    assert time.monotonic() < deadline, f"question {number} shows {verdict.inner_text()!r} for " \
                                                        f"the reply {reply!r}; Python marks it {want!r}"
                    time.sleep(0.1)
            assert want.startswith(f"✓ {number}. Right.")


def test_a_broken_widget_fails_the_check(page, lab):
    """The check is not a rubber stamp: a calculator whose controls no longer reach its output fails it."""
    notebook = one_cell_notebook(lab, "broken_widget.ipynb",
                                 "from greenlab.presentation.widgets import footprint_calculator\n"
                                 "calculator = footprint_calculator(parameters=7e9, tokens=2e12)\n"
                                 "for box in calculator.children[:-1]:\n"
                                 "    box.unobserve_all('value')  # broken: the controls no longer update the output\n"
                                 "calculator")
    output = open_widget(page, lab, notebook, "footprint_calculator(", ".widget-text")
    with pytest.raises(AssertionError, match="after typing 1.3e9 parameters the widget shows"):
        check_footprint_calculator(output)
