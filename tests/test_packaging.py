"""The set-up files agree with each other, and README's two commands are what Makefile and CI run."""

import ast
import re
import runpy
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.version import Version

from greenlab.presentation import machine

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"torch": "pytorch"}


def _pip_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    parsed = {}
    for requirement in requirements:
        name, spec = re.match(r"([A-Za-z0-9_.\-]+)(.*)", requirement).groups()
        parsed[CONDA_NAMES.get(name.lower(), name.lower())] = spec.strip()
    return parsed


def _conda_requirements() -> dict[str, str]:
    parsed = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text[text.index("dependencies:"):].splitlines():  # conda's packages, then pip's (not on conda-forge)
        match = re.match(r"\s+- ([A-Za-z0-9_.][A-Za-z0-9_.\-]*)([^#]*)", line)
        if match and match.group(1) not in ("python", "pip"):
            parsed[match.group(1).lower()] = match.group(2).strip()
    return parsed


def test_environment_yml_lists_the_same_packages_as_pyproject():
    assert _conda_requirements() == _pip_requirements()


def test_readme_commands_are_what_make_and_ci_run():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "make lab" in readme and "make test" in readme
    assert re.search(r"^lab:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "--allow-root" in makefile  # the lab command works when run as root


def test_torch_is_installed_first_as_the_cpu_build():
    makefile = (ROOT / "Makefile").read_text()
    assert "TORCH  ?= torch==2.13.0" in makefile
    assert makefile.index('pip install -q --no-compile "$(TORCH)"') < makefile.index('pip install -q --no-compile -c $(CONSTRAINTS) -e')


def test_no_pickled_checkpoints_anywhere():
    sources = list((ROOT / "greenlab").rglob("*.py")) + list(ROOT.glob("notebooks/*.ipynb")) + \
        list(ROOT.glob("labs/*.ipynb")) + list((ROOT / "benchmarks").glob("*.py"))
    for path in sources:
        for call in re.findall(r"torch\.load\([^)]*\)", path.read_text()):
            assert "weights_only=True" in call, f"{path}: {call}"


def _core_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {CONDA_NAMES.get(name, name) for name in (re.match(r"[A-Za-z0-9_.\-]+", spec).group().lower()
                                                     for spec in project["dependencies"])}


def test_every_floor_is_a_tested_version_and_colabs_where_colab_ships_it():
    newest, colab = machine.tested_versions(), machine.read_pins(machine.COLAB)
    upgrades = runpy.run_path(str(ROOT / "colab" / "install.py"))["UPGRADES"]  # what the setup cell lets pip change
    assert "torch" not in newest  # installed first, on its own; Colab keeps its own
    core = _core_dependencies()
    for name, spec in _pip_requirements().items():
        if name == "pytorch":
            assert spec == f">={machine.TESTED_TORCH[0].rsplit('.', 1)[0]}", "torch's floor is the oldest tested torch"
            continue
        floor = spec.split(",")[0].removeprefix(">=")
        if name in core and name in colab and name not in upgrades:  # the setup cell must not upgrade Colab's
            assert floor == colab[name], f"{name}: floor {floor}, Colab ships {colab[name]}"
        else:
            assert floor in (newest[name], colab.get(name)), f"{name}: floor {floor}, tested {newest[name]}"
    assert set(upgrades) <= core and all(Version(colab[name]) < Version(newest[name]) for name in upgrades)
    assert set(upgrades) == set(machine.COLAB_UPGRADES)  # doctor counts them as the setup cell leaves them


def test_colabs_set_is_colabs_published_list_with_its_source():
    text = (ROOT / "colab" / "requirements.txt").read_text()
    assert re.search(r"googlecolab/backend-info, pip-freeze.txt at commit [0-9a-f]{40} \(\d{4}-\d{2}-\d{2}\)", text)
    colab = machine.read_pins(machine.COLAB)
    assert {"numpy", "pandas", "ipython", "ipykernel", "traitlets", "matplotlib", "ipywidgets", "psutil",
            "pyarrow"} <= colab.keys()  # what Colab's kernel has loaded at start
    assert re.search(r"^torch==2\.11\.0$", text, re.M) and machine.TESTED_SETS["Colab's versions"][:2] == \
        ("3.13", "2.11.0")


def test_make_applies_the_constraints_and_the_tested_torch():
    makefile = (ROOT / "Makefile").read_text()
    assert 'pip install -q --no-compile -c $(CONSTRAINTS) -e ".[lab,test]"' in makefile
    assert "CONSTRAINTS := constraints.txt" in makefile
    torch_here = re.search(r"^TORCH\s*\?= torch==(\S+)$", makefile, re.M).group(1)
    torch_colab = re.search(r"^torch==(\S+)$", (ROOT / "colab" / "requirements.txt").read_text(), re.M).group(1)
    assert {torch_here, torch_colab} == set(machine.TESTED_TORCH)


def test_ci_runs_readme_test_command_and_colabs_leg():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11,<3.14"
    assert machine.TESTED_PYTHONS == ("3.11", "3.13")
    ci, colab = (ROOT / ".ci" / "run").read_text(), (ROOT / ".ci" / "colab").read_text()
    assert "\nmake test " in ci and "\nbash .ci/colab " in ci
    assert "versions/3.13" in colab and "-r colab/requirements.txt" in colab and "colab_first_cell.py" in colab
    assert "-m pytest notebooks labs" in colab
    assert "Python 3.11 to 3.13" in (ROOT / "README.md").read_text()


def test_make_test_runs_every_notebook_again_on_another_cpu_path():
    makefile = (ROOT / "Makefile").read_text()
    test_recipe = makefile[makefile.index("\ntest:"):].split("\n\n")[0]
    assert "$(FOREIGN_CPU) $(PYTEST) notebooks labs" in test_recipe
    assert "FOREIGN_CPU := ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2" in makefile
    assert "TORCHINDUCTOR_CACHE_DIR=" in makefile  # compiled kernels are not shared between the two CPU paths


def test_the_course_table_links_every_notebook_and_lab():
    readme = (ROOT / "README.md").read_text()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "labs").glob("*.ipynb")):
        link = f"]({path.parent.name}/{path.name})"
        assert link in readme, f"README's course table does not link {path.parent.name}/{path.name}"


def test_importing_the_package_prints_nothing_and_loads_no_compiler_toolchain():
    """An import that writes to stderr breaks every notebook's first cell; torch.utils.cpp_extension (pulled in by
    torch.utils.benchmark) warns on every CUDA build of torch without a CUDA toolkit, as on Colab's CPU runtime."""
    modules = [".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
               for path in sorted((ROOT / "greenlab").rglob("*.py")) if path.stem != "__main__"]
    script = "import sys\n" + "".join(f"import {name}\n" for name in modules) + \
        "print('torch.utils.cpp_extension' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert run.stdout == "False\n"


LAYERS = ("foundations", "measurement", "models", "training", "experiments", "applications", "responsible", "presentation",
          "classroom", "cli")  # bottom to top: greenlab/__init__.py's order


def _chapter_index() -> list[str]:
    return [line for line in (ROOT / "greenlab" / "__init__.py").read_text().splitlines()
            if re.match(r"    \d\d ", line)]


def test_the_package_has_one_folder_per_layer_and_nothing_loose():
    package = ROOT / "greenlab"
    assert {p.parent.name for p in package.glob("*/__init__.py")} == set(LAYERS) - {"cli"}
    assert {p.name for p in package.glob("*.py")} == {"__init__.py", "__main__.py", "cli.py"}
    import greenlab
    assert ", ".join(LAYERS[:-1]) + ", and the command line (cli)" in " ".join(greenlab.__doc__.split())


def test_the_chapter_index_names_every_module_and_only_modules_that_exist():
    import greenlab
    package = ROOT / "greenlab"
    named = set(re.findall(r"[a-z][a-z0-9_]*", greenlab.__doc__.split("The code behind each chapter")[1]))
    modules = {path.stem for layer in LAYERS[:-1] for path in (package / layer).glob("*.py")} - {"__init__"}
    packages = {path.parent.name for path in package.glob("*/*/__init__.py")}
    assert modules | packages <= named, f"not in the index: {sorted((modules | packages) - named)}"
    for line in _chapter_index():
        number, rest = line.split(maxsplit=1)
        title, listed = re.split(r"\s{2,}", rest, maxsplit=1)
        for part in listed.split("; "):
            layer, names = part.split("/ ", maxsplit=1)
            assert layer in LAYERS, f"chapter {number}: no layer {layer}/"
            for name, inside in re.findall(r"([a-z][a-z0-9_]*/?)(?: \(([^)]*)\))?", names):
                if name.endswith("/"):
                    folder = package / layer / name
                    assert (folder / "__init__.py").exists(), f"chapter {number}: no {layer}/{name}"
                    assert {f"{p}.py" for p in inside.split(", ")} <= {p.name for p in folder.glob("*.py")}
                else:
                    assert (package / layer / f"{name}.py").exists(), f"chapter {number}: no module {layer}/{name}"
    assert [line.split()[0] for line in _chapter_index()] == [f"{n:02d}" for n in range(9)]


def test_readme_carries_the_same_chapter_index():
    readme = (ROOT / "README.md").read_text()
    assert "\n".join(_chapter_index()) in readme


def test_importing_greenlab_alone_does_not_load_pytorch():
    script = "import sys, greenlab; print('torch' in sys.modules); greenlab.doctor; print('torch' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.stdout == "False\nTrue\n", run.stderr


MODULE_NAME = re.compile(r"greenlab(\.\w+)+")


def _text(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _imports(path: Path) -> list[str]:
    """The greenlab modules a file imports, as sorted dotted names: by an import statement, by name in a string
    (which code hands to something that imports it, in a child process say), and as a program it starts (`-m NAME`
    in an argument list; a package run so runs its __main__)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
        elif isinstance(node, (ast.List, ast.Tuple)):
            for flag, program in zip(node.elts, node.elts[1:]):
                name = _text(program)
                if _text(flag) == "-m" and name is not None and (name == "greenlab" or MODULE_NAME.fullmatch(name)):
                    is_package = (ROOT / name.replace(".", "/") / "__init__.py").exists()
                    names.add(f"{name}.__main__" if is_package else name)
        elif (name := _text(node)) is not None and MODULE_NAME.fullmatch(name):
            names.add(name)
    return sorted(name for name in names if name == "greenlab" or name.startswith("greenlab."))


def _layer(dotted: str) -> int:
    """Where `greenlab.LAYER.module` stands: 0 for the foundations, up to the command line (cli, and __main__,
    which runs it)."""
    part = dotted.split(".")[1]
    return LAYERS.index("cli" if part == "__main__" else part)


def _upward(path: Path, layer: str) -> list[str]:
    """What a file of `layer` imports from the layers above it."""
    imported = [name for name in _imports(path) if name != "greenlab"]  # `import greenlab` reads its __version__
    return [name for name in imported if _layer(name) > LAYERS.index(layer)]


def test_every_import_points_down_or_within_its_layer():
    for path in sorted((ROOT / "greenlab").rglob("*.py")):
        parts = path.relative_to(ROOT / "greenlab").with_suffix("").parts
        if parts[0] in ("__init__", "__main__"):
            continue
        upward = _upward(path, parts[0])
        assert not upward, f"{path.relative_to(ROOT)} (layer {parts[0]}) imports from above: {upward}"


def test_a_program_started_or_a_module_named_in_a_string_is_an_import(tmp_path):
    """Two ways around an import statement: `python -m greenlab train` (the command line) started as a child, and a
    module's name handed to a helper that imports it in a child process."""
    path = tmp_path / "module.py"
    path.write_text('"""Not an import: `python -m greenlab train`, greenlab.cli."""\n'
                    "from greenlab.measurement.memory import peak_memory_in_subprocess\n"
                    'command = ["-m", "greenlab", "train", "--recipe", "tiny"]\n'
                    'launcher = [sys.executable, "-m", "greenlab.training.zoo"]\n'
                    'peak_memory_in_subprocess("greenlab.experiments.attention_scaling", "measure_memory", {})\n'
                    'print("greenlab.presentation is above", "-m", f"greenlab.{name}")\n')
    assert _imports(path) == ["greenlab.__main__", "greenlab.experiments.attention_scaling",
                              "greenlab.measurement.memory", "greenlab.training.zoo"]
    assert _upward(path, "experiments") == ["greenlab.__main__"]  # a module naming itself is within its layer
    assert _upward(path, "training") == ["greenlab.__main__", "greenlab.experiments.attention_scaling"]
    assert _upward(path, "cli") == []


def test_tokenizers_and_kernels_import_no_measurement_or_training():
    """The measurement room and its experiments (greenlab/experiments/) measure them; they do not measure themselves."""
    measuring = ("greenlab.measurement", "greenlab.training", "greenlab.experiments")
    for folder in (ROOT / "greenlab" / "foundations" / "tokenizer", ROOT / "greenlab" / "models" / "attention"):
        for path in folder.glob("*.py"):
            wrong = [name for name in _imports(path) if name.startswith(measuring)]
            assert not wrong, f"{path.relative_to(ROOT)} imports {wrong}"
