import re
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from pytest_socket import SocketConnectBlockedError

from greenlab.foundations import settings, validation


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GREENLAB_CACHE", str(tmp_path / "here"))
    assert settings.cache_dir() == tmp_path / "here"
    assert (tmp_path / "here").is_dir()


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("GREENLAB_PROFILE", "tpu")
    with pytest.raises(ValueError, match="choose one of cpu, gpu"):
        settings.profile()


def test_cpu_profile_uses_the_cpu(monkeypatch):
    monkeypatch.setenv("GREENLAB_PROFILE", "cpu")
    assert settings.device() == torch.device("cpu")


def test_offline_flag_short_circuits():
    started = time.perf_counter()
    assert settings.is_offline()  # the tests run with HF_HUB_OFFLINE=1
    assert time.perf_counter() - started < 0.1


def test_without_flags_a_blocked_network_reads_as_offline(monkeypatch):
    for name in ("GREENLAB_OFFLINE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    assert settings.is_offline(timeout_s=0.5)


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_sockets_to_the_outside_are_blocked_in_tests():
    with pytest.raises(SocketConnectBlockedError):
        socket.create_connection(("93.184.216.34", 80), timeout=0.5)


def test_sockets_are_blocked_in_child_processes_too():
    """Notebook kernels are child processes: the guard reaches them through PYTHONPATH's sitecustomize."""
    attempt = "import socket; socket.create_connection(('93.184.216.34', 80), timeout=0.5)"
    child = subprocess.run([sys.executable, "-c", attempt], capture_output=True, text=True, timeout=60)
    assert child.returncode != 0 and "SocketConnectBlockedError" in child.stderr


def test_seed_everything_repeats():
    settings.seed_everything(3)
    first = (torch.rand(3), np.random.rand(3))
    settings.seed_everything(3)
    second = (torch.rand(3), np.random.rand(3))
    assert torch.equal(first[0], second[0]) and np.array_equal(first[1], second[1])


def test_one_thread_runs_the_block_on_one_thread_and_gives_the_others_back():
    before = torch.get_num_threads()
    with settings.one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), settings.one_thread():
        raise RuntimeError("the block failed")
    assert torch.get_num_threads() == before  # given back when the block raises too


@pytest.mark.parametrize("value, minimum, maximum, message", [
    (0, 1, None, "n must be a whole number >= 1, got 0"), (True, 1, None, "got True"), (2.0, 1, None, "got 2.0"),
    ("3", 1, None, "got '3'"), (9, 1, 5, "n must be a whole number from 1 to 5, got 9"), (-1, 0, None, ">= 0, got -1"),
])
def test_check_whole_refuses_a_bad_count_by_name_and_value(value, minimum, maximum, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        validation.check_whole("n", value, minimum, maximum)


def test_check_whole_gives_back_a_good_count_and_raises_the_error_asked_for():
    assert validation.check_whole("n", 5, 1, 5) == 5 and validation.check_whole("n", 0, minimum=0) == 0
    numpy_count = validation.check_whole("n", np.int64(10))  # e.g. a count from a NumPy array
    assert numpy_count == 10 and type(numpy_count) is int

    class FieldError(ValueError):
        pass

    with pytest.raises(FieldError, match=re.escape("n must be a whole number from 1 to 3 (three at most), got 4")):
        validation.check_whole("n", 4, 1, 3, why="three at most", error=FieldError)


@pytest.mark.parametrize("value, bounds, message", [
    (1.0, {"at_least": 0, "below": 1}, "x must be a finite number >= 0 and < 1, got 1.0"),
    (0, {"above": 0}, "x must be a finite number > 0, got 0"), (-0.5, {"at_least": 0}, ">= 0, got -0.5"),
    (float("nan"), {}, "x must be a finite number, got nan"), (float("inf"), {}, "got inf"),
    (True, {}, "got True"), ("0.1", {}, "got '0.1'"),
])
def test_check_number_refuses_a_bad_number_by_name_and_value(value, bounds, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        validation.check_number("x", value, **bounds)


def test_check_number_gives_back_a_good_number():
    assert validation.check_number("x", 0, at_least=0, below=1) == 0 and validation.check_number("x", 3, above=0) == 3
    assert validation.check_number("x", -2.5) == -2.5


@pytest.mark.parametrize("seed", [-1, 2**32, 2.5, "0", None])
def test_seed_everything_refuses_a_seed_numpy_cannot_take(seed):
    # the setup cell of every notebook calls it; once an error from inside NumPy or torch
    with pytest.raises(ValueError, match=f"seed must be a whole number from 0 to {2**32 - 1} .*, got {seed!r}"):
        settings.seed_everything(seed)
