import pytest

from synthrl.verify import answers_match, extract_answer, normalize_integer


@pytest.mark.parametrize("text, expected", [
    ("Bob has 3 + 4 = 7 apples .\nanswer 7", "7"),
    ("step\nthe answer is 12", "12"),
    ("so the answer is 012 .", "12"),
    ("answer 3\nanswer 5", "5"),  # the last answer line decides
    ("answer -4", "-4"),
])
def test_extracts_the_last_answer(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize("text", [
    "",
    "answer " + "9" * 10_000,  # absurdly long number
    "answer ١٢",  # non-ASCII digits are not numbers here
    "answer 1e999",
    "answer 1.5",
    "__import__('os').system('echo pwned')\nanswer = eval('6*7')",
    "Bob has 3 + 4 = 7 apples .",  # no answer line
    "answer",
    "\x00\x00answer\x00",
    "answer " * 50_000,
])
def test_verifier_answers_none_on_bad_text(text):
    assert extract_answer(text) is None
    assert answers_match(extract_answer(text), "7") is False


def test_verifier_never_executes(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    code = f"answer __import__('pathlib').Path({str(marker)!r}).touch() or 7"
    extract_answer(code)
    assert not marker.exists()


def test_non_strings_are_not_answers():
    assert extract_answer(None) is None  # type: ignore[arg-type]
    assert extract_answer(12345) is None  # type: ignore[arg-type]


def test_normalize_integer():
    assert normalize_integer("1,000") == "1000"
    assert normalize_integer("-0") == "0"
    assert normalize_integer("12a") is None
    assert normalize_integer("1" * 13) is None


def test_boxed_answer_is_bounded_and_matches_braces():
    from synthrl.verify import MAX_BOXED_CHARS, boxed_answer, normalize_latex

    assert boxed_answer("so $\\boxed{\\frac{1}{2}}$ and then \\boxed{3}") == "3"  # the last box decides
    assert boxed_answer("\\boxed{\\frac{a}{b^{2}}}") == "\\frac{a}{b^{2}}"
    assert boxed_answer("\\boxed{1") is None and boxed_answer("\\boxed{}") is None and boxed_answer(None) is None
    assert boxed_answer("\\boxed{" + "1" * (MAX_BOXED_CHARS + 5) + "}") is None
    assert boxed_answer("\\boxed{" + "{" * 100_000) is None  # unbalanced: scans at most MAX_BOXED_CHARS
    assert normalize_latex("\\left( 1, 2 \\right)") == "(1,2)" and normalize_latex("\\text{cm}") == "cm"
