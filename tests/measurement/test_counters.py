from greenlab.measurement import counters


def test_energy_counters_name_both_sources(monkeypatch, tmp_path):
    found = counters.energy_counters()
    assert set(found) == {"RAPL (CPU energy counter)", "NVML (GPU power readings)"}
    monkeypatch.setattr(counters, "RAPL", tmp_path / "missing")
    assert counters.energy_counters()["RAPL (CPU energy counter)"].startswith("absent")
    readable = tmp_path / "energy_uj"
    readable.write_text("123")
    monkeypatch.setattr(counters, "RAPL", readable)
    assert counters.energy_counters()["RAPL (CPU energy counter)"].startswith("readable")
