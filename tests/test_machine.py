from greenlab import machine


def test_energy_counters_name_both_sources(monkeypatch, tmp_path):
    counters = machine.energy_counters()
    assert set(counters) == {"RAPL (CPU energy counter)", "NVML (GPU power readings)"}
    monkeypatch.setattr(machine, "RAPL", tmp_path / "missing")
    assert machine.energy_counters()["RAPL (CPU energy counter)"].startswith("absent")
    readable = tmp_path / "energy_uj"
    readable.write_text("123")
    monkeypatch.setattr(machine, "RAPL", readable)
    assert machine.energy_counters()["RAPL (CPU energy counter)"].startswith("readable")
