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
