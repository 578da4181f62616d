"""Answer checking for real data: GSM8K's numbers and MATH's LaTeX answers.

The arith world's checker (`synthrl.verify`) reads only the world's own answer line. Real outputs
come in many forms: GSM8K's "#### 1,072", "The answer is $72.00.", "\\boxed{-5}"; MATH's "\\frac12",
"10{,}000", "50\\%", "30^\\circ", "0.5" for "\\frac{1}{2}", "x^2+1" for "1+x^2".

- GSM8K, read two ways, as evaluation harnesses do:
  - strict (the default, and the reading every training reward uses): the number a marker points at
    ("####", "answer is", "answer:", a line starting "A:", "\\boxed{"), the last marker in the text
    deciding. A marker's clause runs to its line's or sentence's end; the number is its first, or the
    first after its last "=" ("The answer is 3 + 4 = 7"), and "The answer is 27, not 72." is 27. A clause
    that negates its number ("is not 72"), hedges ("72, I am not sure", "about 72"), or offers two
    numbers or a range ("72 or 27", "5-10", "between 5 and 10") answers nothing; a box holding anything
    but one number (and its unit) answers nothing either. Prose without a marker answers nothing.
  - flexible: the last number of the output, as lm-evaluation-harness's flexible extract reads GSM8K
    ("So the total is 18 dollars." is 18). It reads every ending, and so also hedges.
  `answer_report` counts the outputs where a reading found no answer, so an accuracy is never shown
  without it. Numbers are ASCII digits only, and a number touching another script's digit or letter
  is no number: no script's digits are half-read.
  Written here because no library reads GSM8K's answer this way: math-verify reads the last number of
  an unmarked line, and its expression parser runs sympy's `parse_expr`, which evaluates Python.
- MATH: `math-verify` (Hugging Face) parses both boxed answers to sympy and compares them symbolically,
  with a time limit on every thread: math-verify's own limit is a SIGALRM, which only a process's
  main thread can set, so any other thread (a widget's callback, a sampler's) checks in a worker
  process (`synthrl.math_worker`) that is killed when it overruns. Only its LaTeX parser is used (an
  ANTLR grammar): its plain-expression parser evaluates text, and model output is data, never code.
  Where either answer does not parse to a value, or the two are the same string once lightly
  normalised ("13" and "13."), the strings decide. A box holding two numbers with only a space
  between ("145 3", which math-verify reads as 148) is no answer.

Everything is bounded: at most `MAX_TEXT_CHARS` characters are read, a boxed answer is at most
`MAX_BOXED_CHARS`, and every function answers None or False on any string instead of raising.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from synthrl.verify import MAX_ANSWER_DIGITS, MAX_BOXED_CHARS, MAX_TEXT_CHARS, boxed_answer

# The version of these checkers: in the cache key of every stored `correct` label, so a change to how an
# answer is read re-labels what was sampled instead of keeping the old labels. Bump it with any change here.
CHECKER_VERSION = 2
READINGS = ("strict", "flexible")  # GSM8K's readings (module docstring); strict is every reward's
MAX_DECIMALS = 6  # our choice: a GSM8K answer with more decimals than this is no answer
MATH_VERIFY_TIMEOUT_S = 5  # math-verify's own default for parsing and for comparing

# "####", "answer is", "answer:", "answer would be", ..., a line starting "A:" (OpenAI's GSM8K samples)
# and "\boxed{" (its clause is its content)
_MARKER = re.compile(r"####|\\boxed\{|^[ \t]*A:|\banswer\b(?:\s+(?:is|was|would be|will be|should be|equals|of))?"
                     r"\s*[:=]?", re.ASCII | re.IGNORECASE | re.MULTILINE)
# A number: a sign before or after a dollar sign, digits with or without thousands separators, decimals.
# A token of its own: not inside a word (of any script: no re.ASCII, so "١٢3" holds no number), another
# number, a quoted string or an expression ("x2", "1.5.6", "'6*7'", "3/4" are no numbers; "**72**",
# markdown's bold, is). Digits are ASCII: other scripts' digits are read nowhere.
_NUMBER = re.compile(r"(?<![\w.'\"/^])(-)?\\?\$?\s?(-)?([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(\.[0-9]+)?"
                     r"(?![\w'\"/^]|\.[0-9]|\*[0-9(])")
_CLAUSE_END = re.compile(r"\n|;|\.(?=\s|$)")
# Before the number: a negation ("is not 72", "isn't 72") or a range's opening ("between 5 and 10")
_NEGATED = re.compile(r"\b(?:not|never|no|none|neither|between|from)\b|n't\b", re.IGNORECASE)
# Anywhere in the clause: a hedge
_HEDGE = re.compile(r"\b(?:not sure|unsure|uncertain|maybe|perhaps|probably|possibly|might|could be|i think|i guess|"
                    r"i believe|approximately|approx|about|around|roughly|nearly|almost|or so|at least|at most|"
                    r"more than|less than|fewer than|up to)\b|~", re.IGNORECASE)
# Between the answer and a later number: that number rejected ("27, not 72"), which is allowed
_REJECTS = re.compile(r"\s*[,(]?\s*(?:and\s+)?not\s+", re.IGNORECASE)
# ... or an alternative or a range ("72 or 27", "5 to 10", "5-10", "72, 27"), which answers nothing
_ALTERNATIVE = re.compile(r"\b(?:or|and|to|through|either|vs|versus)\b|^[\s,/&+\-–—~|]*$", re.IGNORECASE)
# A box's content, once its last "=" is cut and degrees and percent signs dropped: one number, then at
# most a unit (squared or cubed) and a full stop
_BOX_MARKS = re.compile(r"\\[,!;: ]|\^\s*\{?\\circ\}?|\\?%")
_BOX_TAIL = re.compile(r"(?:\s*\\(?:text|mbox|mathrm)\{\s*[A-Za-z][A-Za-z .]*\}|\s+[A-Za-z][A-Za-z .]*)?"
                       r"(?:\^\{?[23]\}?)?\s*\.?\s*")
_SPACED_DIGITS = re.compile(r"[0-9][\s~]+[0-9]")  # "145 3": two numbers, or a digit group spelled with spaces


def gsm8k_number(token_sign: str, digits: str, decimals: str | None) -> str | None:
    """A number's canonical string ('1,072' -> '1072', '72.00' -> '72', '-0' -> '0', '2.50' -> '2.5'),
    or None when it is too long to be an answer."""
    digits = digits.replace(",", "").lstrip("0") or "0"
    decimals = (decimals or ".")[1:]
    if len(digits) > MAX_ANSWER_DIGITS or len(decimals) > MAX_DECIMALS:
        return None
    try:
        value = Decimal(f"{token_sign}{digits}.{decimals or '0'}")
    except InvalidOperation:
        return None
    if value == 0:
        return "0"
    return str(value.to_integral_value()) if value == value.to_integral_value() else format(value.normalize(), "f")


def _number(m: re.Match) -> str | None:
    return gsm8k_number(m.group(1) or m.group(2) or "", m.group(3), m.group(4))


def _first_number(clause: str) -> str | None:
    """The number a clause answers with, or None when it negates, hedges or offers more than one."""
    clause = clause.rsplit("=", 1)[-1]  # "3 + 4 = 7": the result
    numbers = list(_NUMBER.finditer(clause))
    if not numbers or _NEGATED.search(clause[:numbers[0].start()]) or _HEDGE.search(clause):
        return None
    for before, later in zip(numbers, numbers[1:]):
        between = clause[before.end():later.start()]
        if _REJECTS.fullmatch(between):
            break  # "27, not 72": what follows is rejected, not offered
        if _ALTERNATIVE.search(between):
            return None
    return _number(numbers[0])


def _box_number(content: str) -> str | None:
    """The one number a box holds (after its last "=", with at most a unit), or None."""
    content = _BOX_MARKS.sub("", content).rsplit("=", 1)[-1].strip()
    wrapped = re.fullmatch(r"\\(?:text|mbox|mathrm)\{([^{}]*)\}", content)  # \text{148}
    content = wrapped.group(1) if wrapped else content
    m = _NUMBER.search(content)
    if m is None or content[:m.start()].strip() or not _BOX_TAIL.fullmatch(content[m.end():]):
        return None
    return _number(m)


def _strict(text: str) -> str | None:
    for marker in reversed(list(_MARKER.finditer(text))):
        if marker.group(0) == "\\boxed{":
            content = boxed_answer(text[marker.start():marker.start() + len("\\boxed{") + MAX_BOXED_CHARS + 1])
            if content is not None:
                return _box_number(content)  # a box is read whole: one number, or no answer
            continue
        end = _CLAUSE_END.search(text, marker.end())  # the clause's end, found in place (no copy per marker)
        clause = text[marker.end():end.start() if end else len(text)]
        if _NUMBER.search(clause.rsplit("=", 1)[-1]):
            return _first_number(clause)  # the last marker with a number decides, even if it answers nothing
    return None


def _flexible(text: str) -> str | None:
    last = None
    for last in _NUMBER.finditer(text):
        pass
    return _number(last) if last is not None else None


def gsm8k_answer(text: str, reading: str = "strict") -> str | None:
    """The number a GSM8K output answers with under `reading` (module docstring), or None."""
    if reading not in READINGS:
        raise ValueError(f"unknown GSM8K reading {reading!r}; one of {READINGS}")
    if not isinstance(text, str):
        return None
    text = text[:MAX_TEXT_CHARS].replace("{,}", ",")  # LaTeX's thousands separator: 10{,}000
    return _strict(text) if reading == "strict" else _flexible(text)


def gsm8k_reference(reference: str) -> str | None:
    """GSM8K's reference answer: an integer, or '#### N' as the dataset writes it."""
    reference = str(reference)
    return gsm8k_answer(reference) if "####" in reference else _first_number(reference)


def gsm8k_correct(reference: str, text: str, reading: str = "strict") -> bool:
    """Whether `text` answers GSM8K's `reference` under `reading`."""
    ref = gsm8k_reference(reference)
    return ref is not None and gsm8k_answer(text, reading) == ref


def answer_report(references: Iterable[str], texts: Iterable[str]) -> dict[str, float | int]:
    """Accuracy of GSM8K outputs under each reading, with how many outputs each found no answer in: the
    numbers to show wherever an accuracy is shown ({"n", "accuracy_strict", "no_answer_strict", ...})."""
    pairs = [(gsm8k_reference(r), t) for r, t in zip(references, texts, strict=True)]
    report: dict[str, float | int] = {"n": len(pairs)}
    for reading in READINGS:
        found = [(r, gsm8k_answer(t, reading)) for r, t in pairs]
        report[f"accuracy_{reading}"] = sum(a is not None and a == r for r, a in found) / max(len(pairs), 1)
        report[f"no_answer_{reading}"] = sum(a is None for _, a in found)
    return report


def math_equivalent(reference: str, answer: str, timeout_s: float = MATH_VERIFY_TIMEOUT_S) -> bool:
    """Two MATH answers (boxed contents) agree: as normalised strings, else symbolically through
    math-verify where both parse; within `timeout_s` per parse and comparison on any thread."""
    if not isinstance(answer, str) or not isinstance(reference, str):
        return False
    if len(answer) > MAX_BOXED_CHARS or len(reference) > MAX_BOXED_CHARS or _SPACED_DIGITS.search(answer):
        return False
    from synthrl.math_worker import equivalent_here, equivalent_in_worker

    if threading.current_thread() is threading.main_thread():
        return equivalent_here(reference, answer, timeout_s)
    return equivalent_in_worker(reference, answer, timeout_s)


def math_correct(reference: str, text: str) -> bool:
    """Whether `text`'s last \\boxed{} answer agrees with MATH's `reference` (a boxed content)."""
    found = boxed_answer(text)
    return found is not None and math_equivalent(reference, found)
