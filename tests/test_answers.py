"""Answer checking for real data (synthrl.answers): GSM8K's numbers and MATH through math-verify."""
import threading
import time

import pytest

from synthrl.answers import answer_report, gsm8k_answer, gsm8k_correct, math_correct, math_equivalent
from synthrl.verify import MAX_BOXED_CHARS


@pytest.mark.parametrize("text, expected", [
    ("She pays 12 dollars.\n#### 72", "72"),  # the dataset's own format
    ("#### 1,072", "1072"),  # thousands separators
    ("The answer is $72.00.", "72"),  # dollars, trailing zeros, a sentence's full stop
    ("Therefore, the final answer is $\\boxed{-5}$.", "-5"),
    ("The answer is -$5", "-5"),
    ("The answer is 27, not 72.", "27"),  # the number the marker points at, not the line's last
    ("The answer is 3 + 4 = 7.", "7"),  # an equation: its result
    ("At first I got 75, which is wrong; the answer is 72.", "72"),
    ("The answer is 72.\nThat is my final answer.", "72"),  # a marker with no number: the one before
    ("The answer is 10{,}000.", "10000"),  # LaTeX's thousands separator
    ("**Answer:** **72**", "72"),
    ("The answer is 0.50", "0.5"),
    ("The answer is 25%.", "25"),
    ("She makes 9 * 2 = $<<9*2=18>>18 a day.\nA: 18", "18"),  # OpenAI's GSM8K samples
    ("\\boxed{\\text{148}}", "148"), ("\\boxed{30^\\circ}", "30"), ("\\boxed{12 \\text{ cm}^2}", "12"),
    ("\\boxed{148.}", "148"), ("\\boxed{3 + 4 = 7}", "7"),
    ("The answer is $18 (9 * 2).", "18"),  # a later number that is no alternative
])
def test_gsm8k_reads_the_number_the_marker_points_at(text, expected):
    assert gsm8k_answer(text) == expected


@pytest.mark.parametrize("reference, text, right", [
    ("72", "The answer is 72", True),
    ("Half of 144.\n#### 72", "#### 72.00", True),  # the reference in the dataset's format
    ("72", "The answer is 720.", False),
    ("72", "The answer is 7.2", False),
    ("72", "The answer is 72.5", False),
    ("72", "The answer is 73, not 72.", False),  # the review's false positive
    ("72", "I first thought the answer was 72, but the answer is 74.", False),
    ("72", "The answer is 1,072.", False),
    ("72", "#### -72", False),
    ("72", "She has 72 apples.", False),  # no answer statement: no answer
])
def test_gsm8k_correct_and_near_misses(reference, text, right):
    assert gsm8k_correct(reference, text) is right


@pytest.mark.parametrize("text", [
    "The answer is not 72.", "The answer isn't 72.", "The answer is never 72",
    "The answer is 72 or 27, I am not sure.", "The answer is 72, I think.", "The answer is about 72.",
    "The answer is between 71 and 73.", "The answer is 71-73.", "The answer is 71 to 73.", "The answer is 72, 27.",
    "\\boxed{145 3}", "\\boxed{72)}", "\\boxed{72, 27}", "\\boxed{72 + x}", "\\boxed{72?}",
    "The answer is 72.\nWait, the answer is not 72.",  # the last marker decides, even when it answers nothing
])
def test_strict_reading_rejects_negations_hedges_and_alternatives(text):
    assert gsm8k_answer(text) is None
    assert not gsm8k_correct("72", text) and not gsm8k_correct("148", text)


def test_flexible_reading_is_the_last_number():
    assert gsm8k_answer("She pays 12 dollars.\nSo the total is 18 dollars.") is None  # strict: no marker
    assert gsm8k_answer("She pays 12 dollars.\nSo the total is 18 dollars.", "flexible") == "18"
    assert gsm8k_answer("The answer is 27, not 72.", "flexible") == "72"  # it reads no marker, so no rejection
    assert gsm8k_answer("no numbers here", "flexible") is None
    with pytest.raises(ValueError, match="reading"):
        gsm8k_answer("The answer is 7", "lenient")


@pytest.mark.parametrize("text", ["The answer is ١٢3", "The answer is 3١٢", "The answer is ７２", "The answer is 72٣"])
def test_no_script_s_digits_are_half_read(text):
    """ASCII digits only, and an ASCII number touching another script's digit is no number."""
    assert gsm8k_answer(text) is None and gsm8k_answer(text, "flexible") is None


def test_answer_report_counts_outputs_without_an_answer():
    report = answer_report(["72", "72", "#### 5", "3"], ["The answer is 72", "So it is 72.", "A: 5", "I give up."])
    assert report == {"n": 4, "accuracy_strict": 0.5, "no_answer_strict": 2,
                      "accuracy_flexible": 0.75, "no_answer_flexible": 1}


def test_gpt3_gsm8k_outputs_are_read_as_openai_labelled_them():
    """On real outputs (GPT-3's GSM8K test solutions, `data/fixtures/README.md`), both readings accept every
    output OpenAI labelled right and none it labelled wrong; the strict one says how many it found no answer in."""
    from synthrl.probes.answer_checks import openai_items

    items = openai_items()
    right = [i for i in items if i["right"]]
    assert len(items) == 300 and len(right) > 100
    for reading in ("strict", "flexible"):
        assert all(gsm8k_correct(i["reference"], i["output"], reading) for i in right), reading
        assert not any(gsm8k_correct(i["reference"], i["output"], reading) for i in items if not i["right"]), reading
    report = answer_report([i["reference"] for i in items], [i["output"] for i in items])
    assert report["accuracy_strict"] == len(right) / len(items)
    unread = [i for i in items if gsm8k_answer(i["output"]) is None]
    assert report["no_answer_strict"] == len(unread) and not any(i["right"] for i in unread)


@pytest.mark.parametrize("text", [
    "", "The answer is", "The answer is five.", "answer " + "9" * 10_000, "The answer is ١٢",
    "The answer is 1.5.6", "x2 answer is x3", "answer is " * 50_000, "\x00answer\x00",
    "__import__('os').system('echo pwned')\nThe answer is eval('6*7')",
])
def test_gsm8k_answers_none_on_bad_text(text):
    assert gsm8k_answer(text) is None
    assert gsm8k_correct("7", text) is False


def test_non_strings_are_not_answers():
    assert gsm8k_answer(None) is None  # type: ignore[arg-type]
    assert math_correct("1", None) is False  # type: ignore[arg-type]
    assert math_equivalent(None, "1") is False  # type: ignore[arg-type]


@pytest.mark.parametrize("reference, text, right", [
    ("\\frac{1}{2}", "so $\\boxed{0.5}$", True),  # symbolic: a decimal for a fraction
    ("x^2+1", "\\boxed{1+x^2}", True),  # reordered
    ("\\frac{1}{2}", "\\boxed{\\frac12}", True),  # brace-less
    ("\\sqrt{2}", "\\boxed{\\sqrt 2}", True),
    ("10000", "\\boxed{10{,}000}", True),
    ("50", "\\boxed{50\\%}", True),
    ("30", "\\boxed{30^\\circ}", True),
    ("12", "\\boxed{12\\text{ cm}}", True),
    ("\\text{(A)}", "\\boxed{\\text{(A)}}", True),
    ("\\frac{1}{2}", "\\boxed{\\frac{1}{3}}", False),
    ("2", "\\boxed{2.001}", False),
    ("x^2+1", "\\boxed{x^2-1}", False),
    ("(1,2)", "\\boxed{(2,1)}", False),
    ("\\text{(A)}", "\\boxed{\\text{(B)}}", False),
    ("4", "\\boxed{4} is wrong, so \\boxed{5}", False),  # the last box decides
    ("4", "the answer is 4", False),  # MATH answers are boxed
])
def test_math_goes_through_math_verify(reference, text, right):
    assert math_correct(reference, text) is right


def test_math_falls_back_to_normalised_strings_where_math_verify_cannot_parse():
    # not LaTeX math-verify parses to one value: compared as normalised strings
    assert math_correct("\\text{Tuesday}", "\\boxed{\\text{Tuesday}}")
    assert not math_correct("\\text{Tuesday}", "\\boxed{\\text{Monday}}")
    assert math_equivalent("13", "13.")  # math-verify cannot parse "13.": the normalised strings agree
    assert not math_equivalent("13", "14.")


def test_math_box_with_two_numbers_is_no_answer():
    assert not math_correct("148", "\\boxed{145 3}")  # math-verify alone reads 148
    assert math_correct("148", "\\boxed{148}")


def test_math_is_bounded_and_never_executes(tmp_path):
    marker = tmp_path / "pwned"
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    assert not math_correct("1", "\\boxed{" + code + "}")
    assert not math_correct("1", "$" + code + "$")
    assert not marker.exists()
    start = time.perf_counter()
    assert not math_correct("1", "\\boxed{" + "1+" * (MAX_BOXED_CHARS // 2 + 10) + "1}")  # too long: no answer
    assert not math_correct("1", "\\boxed{" + "{" * 100_000)  # unbalanced
    assert not math_equivalent("1", "x" * (MAX_BOXED_CHARS + 1))
    assert time.perf_counter() - start < 10  # bounded input, bounded work (not a timing of speed)


def test_math_checks_off_the_main_thread():
    """math-verify's time limit is a SIGALRM, which only the main thread may set; a worker thread
    (a sampler's, a trainer's reward) still gets a verdict."""
    found = []
    worker = threading.Thread(target=lambda: found.append(
        (math_correct("x^2+1", "\\boxed{1+x^2}"), math_correct("x^2+1", "\\boxed{x^2-1}"))))
    worker.start()
    worker.join()
    assert found == [(True, False)]


def test_math_checks_off_the_main_thread_have_a_time_limit():
    """Off the main thread the check runs in a worker process that is killed when it overruns; the next
    check gets a fresh worker."""
    from synthrl import math_worker

    found = []

    def check():
        start = time.perf_counter()
        found.append((math_equivalent("1", "9^{9^{9^{9}}}", timeout_s=0.5), time.perf_counter() - start))
        found.append(math_equivalent("x^2+1", "1+x^2", timeout_s=5))

    worker = threading.Thread(target=check)
    worker.start()
    worker.join(timeout=150)
    assert not worker.is_alive()
    (equal, took), equal_after = found
    assert equal is False and took < math_worker.START_TIMEOUT_S  # bounded (its limit, not a timing of speed)
    assert equal_after is True


def test_the_answer_check_set_meets_its_bar():
    """On the written set (`synthrl.probes.answer_checks`): GSM8K no false positive and recall >= 99%; MATH
    recall within one point of math-verify alone, and no false positive."""
    from synthrl.probes import answer_checks

    judged = answer_checks.judgements()
    judged = judged[judged.marked]  # the strict reading's bar: outputs that state an answer at all
    rate = lambda d, c, right: judged[(judged.dataset == d) & (judged.checker == c) & (judged.right == right)].accepted.mean()  # noqa: E731
    assert rate("gsm8k", "synthrl.answers", False) == 0 and rate("gsm8k", "synthrl.answers", True) >= 0.99
    assert rate("math", "synthrl.answers", False) == 0
    assert rate("math", "synthrl.answers", True) >= rate("math", "math-verify alone", True) - 0.01
    # the simpler checks are measured on the same items: each misses right answers written in the formats
    # the kit's checkers read (thousands separators, dollars, `####`; LaTeX that is equal but spelled
    # otherwise), which is what the kit's checkers are for
    assert rate("gsm8k", "the checker without GSM8K's formats", True) < rate("gsm8k", "synthrl.answers", True)
    assert rate("math", "the last box as a string", True) < rate("math", "synthrl.answers", True)
