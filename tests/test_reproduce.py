import numpy as np
import pandas as pd

from synthrl.probes import reproduce
from synthrl.results import cell_path, read_table, to_csv


def _cell(**changes) -> pd.DataFrame:
    df = pd.DataFrame({"method": ["SFT", "SFT", "RFT"], "metric": ["test_error", "solved", "test_error"],
                       "value": [0.5, 1.0, np.nan], "config_hash": "abc", "git_commit": "1111111",
                       "wall_s": 10.0, "created_at": "2026-01-01T00:00:00+00:00"})
    return df.assign(**changes)


def test_provenance_alone_apart_reproduces():
    got = reproduce.compare(_cell(), _cell(git_commit="2222222", wall_s=99.0, created_at="2027-01-01"))
    assert got["reproduces"] and got["rows_differing"] == 0 and got["max_abs_diff"] == 0.0


def test_a_changed_value_a_nan_a_label_a_hash_and_a_row_count_are_each_named():
    moved = _cell(value=[0.5 + 1e-6, 1.0, np.nan])
    got = reproduce.compare(_cell(), moved)
    assert not got["reproduces"] and got["rows_differing"] == 1 and got["fields_differing"] == "value"
    assert abs(got["max_abs_diff"] - 1e-6) < 1e-12
    one_nan = reproduce.compare(_cell(), _cell(value=[np.nan, 1.0, np.nan]))
    assert not one_nan["reproduces"] and one_nan["max_abs_diff"] == np.inf
    label = reproduce.compare(_cell(), _cell(method=["SFT", "SFT", "RFT-1"]))
    assert not label["reproduces"] and label["fields_differing"] == "method"
    other_hash = reproduce.compare(_cell(), _cell(config_hash="abd"))
    assert not other_hash["reproduces"] and not other_hash["same_config_hash"] and other_hash["rows_differing"] == 0
    timed = _cell(metric=["test_error", "train_wall_s", "test_error"], value=[0.5, 11.5, np.nan])
    slower = reproduce.compare(timed, timed.assign(value=[0.5, 12.7, np.nan]))
    assert slower["reproduces"] and slower["rows_differing"] == 0 and slower["timing_rows_differing"] == 1
    assert slower["max_abs_diff"] == 0.0 and slower["fields_differing"] == ""
    short = reproduce.compare(_cell(), _cell().iloc[:2])
    assert not short["reproduces"] and short["fields_differing"] == "row count"


def test_committed_cells_recomputed_in_a_fresh_folder_reproduce_and_an_edited_one_does_not():
    from synthrl.cli import main

    assert main(["run", "positive_scaling", "--preset", "smoke", "--sizes", "16"]) == 0  # the "committed" cells
    edited = cell_path("positive_scaling", "smoke", "gsm8k-like__seed0__n16")
    df = read_table(edited)
    first = df.index[df.metric == "test_error"][0]
    df.loc[first, "value"] += 0.25
    edited.write_text(to_csv(df))
    out = reproduce.run("positive_scaling", [16], "smoke", None)
    verdict = out[out.metric == "reproduces"].set_index("cell")["value"]
    assert len(verdict) == 4 and verdict.pop("gsm8k-like__seed0__n16") == 0.0 and (verdict == 1.0).all()
    assert set(out.git_commit) == {out.git_commit.iloc[0]} and out.config_hash.notna().all()
    shown = reproduce.ledger(out).set_index("cell")
    assert shown.loc["gsm8k-like__seed0__n16", "reproduces"] == "no"
    assert shown.loc["gsm8k-like__seed0__n16", "fields apart"] == "value"
    assert (shown.drop("gsm8k-like__seed0__n16")["reproduces"] == "yes").all()
