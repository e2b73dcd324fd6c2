import pytest
import torch

from greenlab.presentation import machine


def test_versions_are_checked_against_the_tested_ones(monkeypatch):
    tested = machine.tested_versions()
    assert tested["transformers"] and "torch" not in tested
    monkeypatch.setattr(machine, "_version", lambda package: tested.get(package, "9.9"))
    monkeypatch.setattr(machine.platform, "python_version", lambda: "3.11.7")
    monkeypatch.setattr(machine.platform, "python_version_tuple", lambda: ("3", "11", "7"))
    monkeypatch.setattr(machine.torch, "__version__", "2.13.0+cpu")
    assert machine.untested_versions() == {}
    assert machine.versions_line().endswith("— all as tested (the newest versions)")
    monkeypatch.setattr(machine.platform, "python_version_tuple", lambda: ("3", "14", "0"))
    monkeypatch.setattr(machine.torch, "__version__", "2.9.1")
    monkeypatch.setattr(machine, "_version", lambda package: "0.1" if package == "datasets" else
                        tested.get(package, "not installed"))
    untested = machine.untested_versions()
    assert set(untested) == {"python", "torch", "datasets"}
    assert untested["datasets"] == f"0.1 (tested: {tested['datasets']})"
    assert "not the tested version (the newest versions are the closest): python" in machine.versions_line()
    assert machine.machine_facts()["tested versions"].startswith("no (the newest versions are the closest): python")
    monkeypatch.setattr(machine, "_version", lambda package: "0.1")
    assert machine.versions_line().endswith("more (greenlab doctor lists them)")
    assert machine.machine_facts()["tested versions"].count("(tested: ") == len(tested) + 2


def test_colabs_versions_are_a_tested_set(monkeypatch):
    colab = machine.tested_versions("Colab's versions")
    assert (colab["numpy"], colab["ipython"], colab["pandas"]) == ("2.1.3", "7.34.0", "2.2.3")  # colab/requirements.txt
    newest = machine.tested_versions()
    assert colab["codecarbon"] == newest["codecarbon"]  # Colab lacks it: the setup cell adds it, at its newest
    assert colab["psutil"] == newest["psutil"] != machine.read_pins(machine.COLAB)["psutil"]  # the setup cell upgrades
    monkeypatch.setattr(machine, "_version", lambda package: colab.get(package, "not installed"))
    monkeypatch.setattr(machine.platform, "python_version", lambda: "3.13.0")
    monkeypatch.setattr(machine.platform, "python_version_tuple", lambda: ("3", "13", "0"))
    monkeypatch.setattr(machine.torch, "__version__", "2.11.0+cpu")  # Colab's own build of torch
    assert machine.closest_tested_set() == ("Colab's versions", {})
    assert machine.versions_line().endswith("— all as tested (Colab's versions)")
    monkeypatch.setattr(machine.torch, "__version__", "2.13.0")
    assert machine.untested_versions() == {"torch": "2.13.0 (tested: 2.11.0)"}


def test_gpu_profile_without_a_gpu_warns_with_the_cpu_time(monkeypatch, capsys):
    monkeypatch.setattr(machine.torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("GREENLAB_PROFILE", "cpu")
    assert machine.gpu_profile_warning() is None
    monkeypatch.setenv("GREENLAB_PROFILE", "gpu")
    warning = machine.gpu_profile_warning()
    assert "PyTorch sees no GPU" in warning and "159× the training FLOPs" in warning and "about 6 hours" in warning
    with pytest.warns(UserWarning, match="GREENLAB_PROFILE=gpu"):
        machine.setup(seed=1)
    assert "Python" in capsys.readouterr().out


def test_setup_seeds_everything(capsys):
    machine.setup(seed=3)
    first = torch.rand(3)
    machine.setup(seed=3)
    assert torch.equal(first, torch.rand(3))
    assert capsys.readouterr().out.count("torch") == 2
