"""How well the answer checkers read real outputs: recall on right answers, the false-positive rate
on wrong ones and (for the kit's two GSM8K readings) the share of outputs in which no answer was
found, for GSM8K and MATH, of the kit's checkers, the simpler checks they replace (the arith world's
answer line; the last box as a string), and math-verify alone.

The set is written here, not taken from the datasets (whose rows are not ours to ship): GSM8K's own
reference format ("reasoning\\n#### 72") and MATH's boxed answers, with model-style variants of a right
answer (thousands separators, dollars, trailing zeros, units, percent, degrees, reordered expressions,
brace-less fractions) and wrong answers that look close (a digit more, the decimal point moved, the
right number rejected, a near value, a negated, hedged or two-number answer). Each item's label is by
hand; a right number in prose with no answer marker counts as right (the flexible reading is for it).
Beside it, real outputs: GPT-3's GSM8K test solutions as OpenAI published them, with OpenAI's labels
(`data/fixtures/README.md`).

`python -m synthrl probe answer-checks` writes `data/results/answer_checks__cpu.csv`.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import pandas as pd

from pathlib import Path

from synthrl.answers import gsm8k_answer, gsm8k_correct, math_correct
from synthrl.datafiles import read_jsonl
from synthrl.verify import (
    answers_match,
    boxed_answer,
    extract_answer,
    normalize_integer,
    normalize_latex,
)

STUDY = "answer_checks"
OPENAI_SAMPLES = Path(__file__).resolve().parents[3] / "data" / "fixtures" / "gsm8k_openai_samples.jsonl"

# GSM8K's answers are whole numbers, some with thousands, some zero or negative
GSM8K_ANSWERS = (72, 1072, 0, -5, 18, 1000000, 3, 45, 125, 600, 9, 2024)


def _comma(n: int) -> str:
    return f"{n:,}"


def _gsm8k_right(n: int) -> list[tuple[str, str]]:
    """(kind, output) pairs that answer n."""
    c = _comma(n)
    out = [("dataset format", f"She pays 3 * 4 = 12 dollars.\n#### {n}"),
           ("dataset format, thousands", f"So the total is {c}.\n#### {c}"),
           ("answer is", f"Step one.\nThe answer is {n}."),
           ("answer is, colon", f"The answer is: {n}"),
           ("Answer:", f"Answer: {c}"),
           ("final answer boxed", f"Therefore, the final answer is $\\boxed{{{c}}}$."),
           ("bare boxed", f"\\boxed{{{n}}}"),
           ("dollars and cents", f"The answer is ${c}.00"),
           ("unit after", f"The answer is {c} dollars."),
           ("percent", f"The answer is {n}%."),
           ("equation in the answer", f"The answer is {n - 1} + 1 = {n}."),
           ("right then rejected wrong", f"The answer is {n}, not {n + 1}."),
           ("correction before", f"At first I got {n + 3}, which is wrong; the answer is {n}."),
           ("answer then remark", f"The answer is {n}.\nThat is my final answer."),
           ("LaTeX thousands", f"The answer is {c.replace(',', '{,}')}."),
           ("markdown bold", f"**Answer:** **{c}**"),
           ("Minerva format", f"Final Answer: The final answer is {n}. I hope it is correct."),
           ("answer =", f"answer = {n}"),
           ("dataset marker with dollars", f"#### ${c}"),
           ("OpenAI's samples", f"She makes 9 * 2 = $<<9*2=18>>18 a day.\nA: {n}"),
           ("prose ending", f"She pays 3 * 4 = 12 dollars.\nSo the total is {c} dollars.")]
    return out


# Right answers written without any answer marker: the strict reading finds no answer in them (and says so),
# the flexible one reads them
UNMARKED = ("prose ending",)


def _gsm8k_wrong(n: int) -> list[tuple[str, str]]:
    """(kind, output) pairs that do not answer n (near misses)."""
    out = [("one off", f"The answer is {n + 1}."),
           ("rejects the right number", f"The answer is {n + 1}, not {n}."),
           ("right number then corrected", f"I first thought the answer was {n}, but the answer is {n + 2}."),
           ("half more", f"The answer is {n}.5"),
           ("equation ends elsewhere", f"The answer is {n} + 1 = {n + 1}."),
           ("boxed near value", f"\\boxed{{{n + 10}}}"),
           ("dataset format, near value", f"So the total is {n - 1}.\n#### {n - 1}"),
           ("markdown bold, near value", f"**Answer:** **{n + 4}**"),
           ("Minerva format, near value", f"Final Answer: The final answer is {n - 2}. I hope it is correct."),
           ("negated", f"The answer is not {n}."),
           ("negated, contracted", f"The answer isn't {n}."),
           ("hedged alternatives", f"The answer is {n} or {n + 9}, I am not sure."),
           ("hedged", f"The answer is about {n}."),
           ("range", f"The answer is between {n - 1} and {n + 1}."),
           ("two numbers in a box", f"\\boxed{{{n - 3} 3}}"),
           ("a box with junk after", f"\\boxed{{{n})}}"),
           ("OpenAI's samples, near value", f"She makes 9 * 2 = $<<9*2=18>>18 a day.\nA: {n + 1}")]
    if n != 0:  # ("00" is 0)
        out += [("a digit more", f"The answer is {n}0."), ("sign flipped", f"#### {-n}"), ("decimal point moved", f"The answer is {n / 10:g}.")]
    if 0 <= n < 1000:
        out.append(("thousand more", f"The answer is 1,{n:03d}."))
    return out


def gsm8k_items() -> list[dict]:
    items = []
    for n in GSM8K_ANSWERS:
        reference = f"Add the parts.\n#### {n}"  # the dataset's own answer field
        items += [{"dataset": "gsm8k", "reference": reference, "answer": str(n), "kind": k, "output": o, "right": True,
                   "marked": k not in UNMARKED} for k, o in _gsm8k_right(n)]
        items += [{"dataset": "gsm8k", "reference": reference, "answer": str(n), "kind": k, "output": o, "right": False,
                   "marked": True} for k, o in _gsm8k_wrong(n)]
    return items


# MATH: (reference as in the dataset's last \boxed{}, the output's boxed answer or whole text, right?)
_MATH = (
    ("\\frac{1}{2}", "\\boxed{\\frac{1}{2}}", True, "exact"),
    ("\\frac{1}{2}", "\\boxed{\\dfrac{1}{2}}", True, "dfrac"),
    ("\\frac{1}{2}", "\\boxed{\\frac12}", True, "brace-less fraction"),
    ("\\frac{3}{4}", "\\boxed{\\tfrac34}", True, "brace-less tfrac"),
    ("\\frac{1}{2}", "\\boxed{0.5}", True, "decimal for fraction"),
    ("0.25", "\\boxed{\\frac{1}{4}}", True, "fraction for decimal"),
    ("\\frac{1}{2}", "\\boxed{1/2}", True, "slash fraction"),
    ("\\frac{5}{6}", "\\boxed{\\frac{10}{12}}", True, "unreduced fraction"),
    ("\\sqrt{2}", "\\boxed{\\sqrt 2}", True, "brace-less sqrt"),
    ("2\\sqrt{3}", "\\boxed{\\sqrt{12}}", True, "equal surd"),
    ("10000", "\\boxed{10{,}000}", True, "LaTeX thousands"),
    ("10000", "\\boxed{10,000}", True, "thousands separator"),
    ("50", "\\boxed{50\\%}", True, "percent added"),
    ("50\\%", "\\boxed{50}", True, "percent dropped"),
    ("30^\\circ", "\\boxed{30}", True, "degrees dropped"),
    ("30", "\\boxed{30^\\circ}", True, "degrees added"),
    ("5", "\\boxed{\\$5}", True, "dollar sign"),
    ("\\$5.00", "\\boxed{5}", True, "dollars and cents"),
    ("12", "\\boxed{12\\text{ cm}}", True, "unit in text"),
    ("12\\text{ inches}", "\\boxed{12}", True, "unit dropped"),
    ("x^2+1", "\\boxed{1+x^2}", True, "reordered sum"),
    ("2x+3", "\\boxed{3+2x}", True, "reordered sum"),
    ("(x+1)(x-1)", "\\boxed{(x-1)(x+1)}", True, "reordered product"),
    ("\\pi", "\\boxed{\\pi}", True, "symbol"),
    ("2\\pi", "\\boxed{2 \\pi}", True, "spacing"),
    ("\\frac{\\pi}{2}", "\\boxed{\\pi/2}", True, "slash with symbol"),
    ("(1,2)", "\\boxed{(1, 2)}", True, "tuple spacing"),
    ("[2,5)", "\\boxed{[2, 5)}", True, "interval spacing"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "\\boxed{(3,\\frac{\\pi}{2})}", True, "left/right dropped"),
    ("\\{1,2\\}", "\\boxed{\\{2,1\\}}", True, "set reordered"),
    ("\\text{(A)}", "\\boxed{\\text{(A)}}", True, "choice"),
    ("-3", "\\boxed{-3}", True, "negative"),
    ("7", "\\boxed{7.0}", True, "trailing zero"),
    ("13", "\\boxed{13.}", True, "a full stop in the box"),
    ("3", "So the answer is \\boxed{3}.", True, "boxed in a sentence"),
    ("4", "so $x = \\boxed{4}$", True, "boxed in math"),
    ("4", "We get \\boxed{5}, which is wrong, so \\boxed{4}", True, "last box decides"),
    ("\\frac{1}{2}", "\\boxed{\\frac{1}{3}}", False, "other fraction"),
    ("\\frac{1}{2}", "\\boxed{2}", False, "inverse"),
    ("\\frac{5}{6}", "\\boxed{\\frac{6}{5}}", False, "inverse fraction"),
    ("\\frac{1}{2}", "\\boxed{0.51}", False, "near decimal"),
    ("2", "\\boxed{2.001}", False, "near decimal"),
    ("\\sqrt{2}", "\\boxed{2}", False, "root dropped"),
    ("\\sqrt{2}", "\\boxed{\\sqrt{3}}", False, "other root"),
    ("3\\sqrt{2}", "\\boxed{2\\sqrt{3}}", False, "swapped surd"),
    ("7", "\\boxed{7\\sqrt{2}}", False, "extra factor"),
    ("10000", "\\boxed{1000}", False, "a zero less"),
    ("50", "\\boxed{5}", False, "a digit less"),
    ("30^\\circ", "\\boxed{60^\\circ}", False, "other angle"),
    ("x^2+1", "\\boxed{x^2-1}", False, "sign flipped"),
    ("2x+3", "\\boxed{2x-3}", False, "sign flipped"),
    ("-3", "\\boxed{3}", False, "sign dropped"),
    ("\\pi", "\\boxed{3}", False, "pi rounded"),
    ("\\frac{\\pi}{2}", "\\boxed{\\pi}", False, "factor dropped"),
    ("(1,2)", "\\boxed{(2,1)}", False, "tuple reordered"),
    ("[2,5)", "\\boxed{[2,5]}", False, "interval closed"),
    ("\\{1,2\\}", "\\boxed{\\{1,3\\}}", False, "other set"),
    ("\\text{(A)}", "\\boxed{\\text{(B)}}", False, "other choice"),
    ("4", "We get \\boxed{4}, which is wrong, so \\boxed{5}", False, "last box decides"),
    ("12", "\\boxed{21}", False, "digits swapped"),
    ("148", "\\boxed{145 3}", False, "two numbers in a box"),
    ("0.25", "\\boxed{\\frac{1}{5}}", False, "near fraction"),
)


def math_items() -> list[dict]:
    return [{"dataset": "math", "reference": ref, "answer": ref, "kind": kind, "output": out, "right": right,
             "marked": True} for ref, out, right, kind in _MATH]


def openai_items(path: Path = OPENAI_SAMPLES) -> list[dict]:
    """GPT-3's GSM8K test outputs (`data/fixtures/README.md`), labelled right or wrong by OpenAI."""
    return [{"dataset": "gsm8k, GPT-3's outputs", "reference": r["reference"], "answer": r["reference"],
             "kind": r["model"], "output": r["output"], "right": bool(r["is_correct"]), "marked": True}
            for r in read_jsonl(path, required=("reference", "output", "is_correct", "model"))]


def _math_verify_alone(reference: str, output: str) -> bool:
    """math-verify as its README shows it: its default parsers on the whole output. (Its plain-expression
    parser runs sympy's parse_expr, which evaluates text: fine on the strings written above, which is
    why the kit itself uses only its LaTeX parser on model output.)"""
    from math_verify import parse, verify

    return bool(verify(parse("$" + reference + "$"), parse(output)))


def _arith_answer_line(item: dict) -> bool:  # the arith world's checker, which knows none of GSM8K's formats
    return answers_match(extract_answer(item["output"]), normalize_integer(item["answer"]) or item["answer"])


def _last_box_as_string(item: dict) -> bool:  # the last box, compared as normalised strings
    found = boxed_answer(item["output"])
    return found is not None and normalize_latex(found) == normalize_latex(item["answer"])


_GSM8K_CHECKERS: dict[str, Callable[[dict], bool]] = {
    "synthrl.answers": lambda i: gsm8k_correct(i["reference"], i["output"]),
    "synthrl.answers, flexible": lambda i: gsm8k_correct(i["reference"], i["output"], "flexible"),
    "the checker without GSM8K's formats": _arith_answer_line,
    "math-verify alone": lambda i: _math_verify_alone(i["answer"], i["output"])}
# Whether a checker found an answer at all (the kit's readings only: the others do not say)
FOUND: dict[str, Callable[[dict], bool]] = {
    "synthrl.answers": lambda i: gsm8k_answer(i["output"]) is not None,
    "synthrl.answers, flexible": lambda i: gsm8k_answer(i["output"], "flexible") is not None}
CHECKERS: dict[str, dict[str, Callable[[dict], bool]]] = {
    "gsm8k": _GSM8K_CHECKERS,
    "gsm8k, GPT-3's outputs": _GSM8K_CHECKERS,
    "math": {"synthrl.answers": lambda i: math_correct(i["reference"], i["output"]),
             "the last box as a string": _last_box_as_string,
             "math-verify alone": lambda i: _math_verify_alone(i["answer"], i["output"])},
}


def judgements() -> pd.DataFrame:
    """Every item with every checker's verdict (one row per item and checker)."""
    rows = []
    for item in gsm8k_items() + openai_items() + math_items():
        for checker, check in CHECKERS[item["dataset"]].items():
            found = FOUND[checker](item) if item["dataset"] != "math" and checker in FOUND else None
            rows.append({**item, "checker": checker, "accepted": bool(check(item)), "found": found})
    return pd.DataFrame(rows)


def run() -> pd.DataFrame:
    """Recall (right answers accepted) and false-positive rate (wrong answers accepted) per dataset
    and checker, as tidy results with provenance."""
    from synthrl.cache import cache_key
    from synthrl.results import provenance, table

    start = time.perf_counter()
    judged = judgements()
    rows = []
    for (dataset, checker), g in judged.groupby(["dataset", "checker"], sort=False):
        right, wrong = g[g.right], g[~g.right]
        rows += [{"task": dataset, "method": checker, "metric": "recall", "value": right.accepted.mean(),
                  "n_samples": len(right)},
                 {"task": dataset, "method": checker, "metric": "false_positive_rate",
                  "value": wrong.accepted.mean(), "n_samples": len(wrong)}]
        if g.found.notna().all():  # outputs in which the reading found no answer at all
            rows.append({"task": dataset, "method": checker, "metric": "no_answer_rate",
                         "value": 1 - g.found.astype(bool).mean(), "n_samples": len(g)})
    items = judged.drop_duplicates(["dataset", "reference", "output"])[["dataset", "reference", "output", "right"]]
    prov = provenance(cache_key(STUDY, items.to_dict("records")), time.perf_counter() - start)
    return table([{"study": STUDY, "preset": "cpu", "seed": 0, **r} for r in rows], prov)


def means_table(results: pd.DataFrame) -> pd.DataFrame:
    """The README's table: each dataset's checkers, recall, false-positive rate and outputs without an
    answer found, with their counts."""
    rows = []
    for (task, checker), g in results.groupby(["task", "method"], sort=False):
        v = g.set_index("metric")
        rate = lambda m: (f"{v.loc[m, 'value']:.3f} ({round(v.loc[m, 'value'] * v.loc[m, 'n_samples'])} of "  # noqa: E731
                          f"{int(v.loc[m, 'n_samples'])})" if m in v.index else "not said")
        rows.append({"dataset": task, "checker": checker, "recall (right answers accepted)": rate("recall"),
                     "false-positive rate (wrong answers accepted)": rate("false_positive_rate"),
                     "no answer found": rate("no_answer_rate")})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from synthrl.datafiles import atomic_write_text
    from synthrl.results import data_dir, to_csv

    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)  # no options: the labelled sets
    results = run()
    path = data_dir() / "results" / f"{STUDY}__cpu.csv"
    atomic_write_text(path, to_csv(results))
    print(results[["task", "method", "metric", "value", "n_samples"]].to_string())
    print(f"{path} ({results.wall_s.iloc[0]:.0f} s)")
    return 0
