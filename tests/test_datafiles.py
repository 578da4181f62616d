import json

import pytest

from synthrl.datafiles import DataFormatError, read_jsonl, write_jsonl
from synthrl.tasks.base import Problem


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "d_syn.jsonl"
    path.write_text('{"uid": "a", "question": "q"}\n{"uid": "b", "question": \n')
    with pytest.raises(DataFormatError, match=r"d_syn\.jsonl:2: not valid JSON"):
        read_jsonl(path)


def test_missing_field_and_non_object(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"uid": "a"}\n')
    with pytest.raises(DataFormatError, match=r"x\.jsonl:1: missing field\(s\) \['question'\]"):
        read_jsonl(path, required=("uid", "question"))
    path.write_text('\n[1, 2]\n')
    with pytest.raises(DataFormatError, match=r"x\.jsonl:2: expected a JSON object"):
        read_jsonl(path)


def test_round_trip_is_exact_and_atomic(tmp_path):
    problems = [Problem("u1", "How many ?", "7", "answer 7", {"q": {"a": [1, 2]}})]
    path = write_jsonl(tmp_path / "sub" / "p.jsonl", [p.to_dict() for p in problems])
    assert [Problem.from_dict(r) for r in read_jsonl(path)] == problems
    assert [f.name for f in path.parent.iterdir()] == ["p.jsonl"]  # no temporary left behind
    assert json.loads(path.read_text().splitlines()[0])["uid"] == "u1"


@pytest.mark.parametrize("content, said", [
    (__import__("gzip").compress(b'{"uid": "a"}\n'), r"x\.jsonl: a gzip-compressed file"),
    (b'{"uid": "a"}\n{"uid": "caf\xe9"}\n', r"x\.jsonl:2: not UTF-8 text \(byte 0xe9 at column 13\).*latin-1"),
    (b'{"uid": "a"}\n\x00\x01\x02\n', r"x\.jsonl:2: a NUL byte"),
    (bytes(range(128, 256)), r"x\.jsonl:1: not UTF-8 text"),
])
def test_binary_compressed_and_other_encodings_name_the_file_and_line(tmp_path, content, said):
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match=said):
        read_jsonl(path)


def test_too_few_rows_is_said(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text("\n\n")
    assert read_jsonl(path) == []  # an empty file is rows of nothing, where that may be...
    with pytest.raises(DataFormatError, match=r"x\.jsonl: 0 rows, at least 1 needed \(the file is empty\)"):
        read_jsonl(path, min_rows=1)  # ...but not where data is needed
