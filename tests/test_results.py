from synthrl.results import load_results, provenance, save_results, table


def test_provenance_round_trips_as_text(monkeypatch):
    """A commit such as 1308e95 looks like a number to a CSV reader; it must come back as written."""
    import synthrl.results

    monkeypatch.setattr(synthrl.results, "git_commit", lambda: "1308e95")
    prov = provenance("0123456789012345", 1.5)
    rows = [{"study": "probe", "preset": "smoke", "method": "SFT", "metric": "test_error", "value": 0.5}]
    save_results(table(rows, prov), "probe", "smoke")
    back = load_results("probe", "smoke").iloc[0]
    assert back["git_commit"] == "1308e95" and back["config_hash"] == "0123456789012345"
    assert back["value"] == 0.5 and back["wall_s"] == 1.5


def test_a_probes_command_line_runs_it_on_the_preset_prints_and_saves_it(tmp_path, monkeypatch, capsys):
    """Every one-preset probe's `main`: --preset picks the preset, what `show` gives is printed, and the
    results land under data/results/probes/ as PROBE__PRESET.csv."""
    import pandas as pd

    from synthrl.results import load_probe
    from synthrl.probes.cli import probe_main

    monkeypatch.setenv("SYNTHRL_DATA", str(tmp_path))
    ran = []

    def run(preset):
        ran.append(preset)
        return pd.DataFrame([{"study": "x", "preset": preset, "metric": "seconds", "value": 1.5}])

    assert probe_main("A probe.\nMore.", run, "x_probe", lambda df: f"shown {len(df)} rows", ["--preset", "smoke"]) == 0
    assert ran == ["smoke"]
    assert "shown 1 rows" in capsys.readouterr().out
    assert load_probe("x_probe", "smoke", "the probe")["value"].tolist() == [1.5]


def _saved(rows=3):
    prov = provenance("0123456789012345", 1.0)
    df = table([{"study": "probe", "preset": "smoke", "method": "SFT", "metric": "test_error", "value": i / 10}
                for i in range(rows)], prov)
    return save_results(df, "probe", "smoke")


def test_a_results_file_cut_at_a_row_boundary_says_so():
    import pytest

    from synthrl.datafiles import DataFormatError

    path = _saved(rows=5)
    assert len(load_results("probe", "smoke")) == 5 and "file_rows" not in load_results("probe", "smoke")
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:4]))  # header and 3 of 5 rows: whole rows, no broken line
    with pytest.raises(DataFormatError, match=r"probe__smoke.csv: 3 rows, where \[5\] were written"):
        load_results("probe", "smoke")


def test_a_results_file_without_its_columns_or_not_text_names_the_file():
    import gzip

    import pytest

    from synthrl.datafiles import DataFormatError

    path = _saved()
    text = path.read_text()
    path.write_text(text.replace("metric", "measure"))
    with pytest.raises(DataFormatError, match=r"probe__smoke.csv: missing column\(s\) \['metric'\]"):
        load_results("probe", "smoke")
    path.write_bytes(gzip.compress(text.encode()))
    with pytest.raises(DataFormatError, match="probe__smoke.csv: not a readable results CSV"):
        load_results("probe", "smoke")
    path.write_text("")
    with pytest.raises(DataFormatError, match="probe__smoke.csv: not a readable results CSV"):
        load_results("probe", "smoke")
