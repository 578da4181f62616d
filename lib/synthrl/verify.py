"""Final-answer checking: the binary reward r(x, y).

Model output is data, never code: nothing here evaluates text. Parsing is bounded: only the
first `MAX_TEXT_CHARS` characters are read and an answer longer than `MAX_ANSWER_DIGITS` digits is
no answer. Every function answers (None or False) on any string instead of raising.
"""
from __future__ import annotations

import re

# This module's answer reading, versioned: bump it with any change to how an answer line is read (it is in
# the cache key of every `correct` label the arith world stores, `ArithWorld.checker`)
CHECKER_VERSION = 1
MAX_TEXT_CHARS = 20_000  # our choice: 50x the longest solution any preset writes
MAX_ANSWER_DIGITS = 12  # our choice: GSM8K answers have at most 7 digits

# An integer standing as a word of its own (after a space or "$", before a space or closing
# punctuation): not part of a word ("x2"), a float ("1.5"), "1e999" or an expression ("6*7").
# [0-9] and re.ASCII: other scripts' digits are not read as numbers (int() would accept them).
_INTEGER = re.compile(r"(?<![^\s$])(-?[0-9]+)(?=$|\s|[.,;:!?)](?:\s|$))", re.ASCII)
_ANSWER_WORD = re.compile(r"\banswer\b", re.ASCII | re.IGNORECASE)


def normalize_integer(token: str) -> str | None:
    """'007' -> '7', '-0' -> '0'; None for anything that is not a short ASCII integer."""
    token = token.strip().replace(",", "")
    if not re.fullmatch(r"-?[0-9]+", token, re.ASCII):
        return None
    sign, digits = ("-", token[1:]) if token.startswith("-") else ("", token)
    digits = digits.lstrip("0") or "0"
    if len(digits) > MAX_ANSWER_DIGITS:
        return None
    return "0" if digits == "0" else sign + digits


def last_integer(line: str) -> str | None:
    """The last stand-alone integer of a line, normalized, or None."""
    found = _INTEGER.findall(line[:MAX_TEXT_CHARS])
    return normalize_integer(found[-1]) if found else None


def extract_answer(text: str) -> str | None:
    """The number on the last line that says 'answer' (our worlds' answer line), or None.

    The last answer line decides: a solution that states two answers is judged by its last.
    """
    if not isinstance(text, str):
        return None
    lines = text[:MAX_TEXT_CHARS].split("\n")
    for line in reversed(lines):
        if _ANSWER_WORD.search(line):
            return last_integer(line)
    return None


def answers_match(predicted: str | None, reference: str) -> bool:
    """Exact match of normalized integers; a missing prediction is wrong."""
    if predicted is None:
        return False
    return predicted == normalize_integer(str(reference))


MAX_BOXED_CHARS = 200  # our choice: MATH's longest reference answers are well under 100 characters
_BOXED = "\\boxed{"


def boxed_answer(text: str) -> str | None:
    """The content of the last \\boxed{...} (braces matched, at most MAX_BOXED_CHARS), or None."""
    if not isinstance(text, str):
        return None
    text = text[:MAX_TEXT_CHARS]
    start = text.rfind(_BOXED)
    if start < 0:
        return None
    depth, i = 1, start + len(_BOXED)
    for j in range(i, min(len(text), i + MAX_BOXED_CHARS + 1)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i:j].strip() or None
    return None  # unbalanced or too long: no answer


def normalize_latex(answer: str) -> str:
    """A light normalisation of a LaTeX answer for string comparison: no spaces, no $, \\left and
    \\right, \\dfrac and \\tfrac as \\frac, no trailing period, no \\text{} wrapper on units."""
    a = answer.strip().rstrip(".")
    for old, new in (("\\left", ""), ("\\right", ""), ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"),
                     ("\\!", ""), ("\\,", ""), ("$", ""), (" ", "")):
        a = a.replace(old, new)
    m = re.fullmatch(r"\\text\{([^{}]*)\}", a)
    return m.group(1) if m else a
