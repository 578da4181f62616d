"""Answer checking for real data: GSM8K's numbers and MATH's LaTeX answers.

The arith world's checker (`synthrl.verify`) reads only the world's own answer line. Real outputs
come in many forms: GSM8K's "#### 1,072", "The answer is $72.00.", "\\boxed{-5}"; MATH's "\\frac12",
"10{,}000", "50\\%", "30^\\circ", "0.5" for "\\frac{1}{2}", "x^2+1" for "1+x^2".

- GSM8K: the number a marker points at ("####", "answer is", "answer:", "\\boxed{"), the last marker in
  the text deciding. A marker's clause runs to its line's or sentence's end; the number is its first,
  or the first after its last "=" ("The answer is 3 + 4 = 7"). So "The answer is 27, not 72." is 27.
  Written here because no library reads GSM8K's answer this way: math-verify reads the last number of
  an unmarked line, and its expression parser runs sympy's `parse_expr`, which evaluates Python.
- MATH: `math-verify` (Hugging Face) parses both boxed answers to sympy and compares them symbolically,
  with its time limit. Only its LaTeX parser is used (an ANTLR grammar): its plain-expression parser
  evaluates text, and model output is data, never code. Where it cannot parse, a light normalisation
  of both strings is compared instead.

Everything is bounded: at most `MAX_TEXT_CHARS` characters are read, a boxed answer is at most
`MAX_BOXED_CHARS`, and every function answers None or False on any string instead of raising.
"""
from __future__ import annotations

import functools
import logging
import re
import threading
from decimal import Decimal, InvalidOperation

from synthrl.verify import MAX_ANSWER_DIGITS, MAX_BOXED_CHARS, MAX_TEXT_CHARS, boxed_answer, normalize_latex

MAX_DECIMALS = 6  # our choice: a GSM8K answer with more decimals than this is no answer
MATH_VERIFY_TIMEOUT_S = 5  # math-verify's own default for parsing and for comparing

# "####", "answer is", "answer:", "answer would be", ... and "\boxed{" (its clause is its content)
_MARKER = re.compile(r"####|\\boxed\{|\banswer\b(?:\s+(?:is|was|would be|will be|should be|equals|of))?\s*[:=]?",
                     re.ASCII | re.IGNORECASE)
# A number: a sign before or after a dollar sign, digits with or without thousands separators, decimals.
# A token of its own: not inside a word, another number, a quoted string or an expression ("x2", "1.5.6",
# "'6*7'", "3/4" are no numbers; "**72**", markdown's bold, is).
_NUMBER = re.compile(r"(?<![\w.'\"/^])(-)?\\?\$?\s?(-)?([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(\.[0-9]+)?"
                     r"(?![0-9A-Za-z'\"/^]|\.[0-9]|\*[0-9(])", re.ASCII)
_CLAUSE_END = re.compile(r"\n|;|\.(?=\s|$)")


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


def _first_number(clause: str) -> str | None:
    clause = clause.rsplit("=", 1)[-1]  # "3 + 4 = 7": the result
    m = _NUMBER.search(clause)
    return gsm8k_number(m.group(1) or m.group(2) or "", m.group(3), m.group(4)) if m else None


def gsm8k_answer(text: str) -> str | None:
    """The number a GSM8K output answers with (module docstring), or None."""
    if not isinstance(text, str):
        return None
    text = text[:MAX_TEXT_CHARS].replace("{,}", ",")  # LaTeX's thousands separator: 10{,}000
    for marker in reversed(list(_MARKER.finditer(text))):
        if marker.group(0) == "\\boxed{":
            clause = boxed_answer(text[marker.start():marker.start() + len("\\boxed{") + MAX_BOXED_CHARS + 1]) or ""
            clause = re.sub(r"\\text\{([^{}]*)\}", r"\1", clause)
        else:  # up to the clause's end, found in place (no copy of the text's rest per marker)
            end = _CLAUSE_END.search(text, marker.end())
            clause = text[marker.end():end.start() if end else len(text)]
        found = _first_number(clause)
        if found is not None:
            return found
    return None


def gsm8k_correct(reference: str, text: str) -> bool:
    """Whether `text` answers GSM8K's `reference` (an integer, or '#### N' as the dataset writes it)."""
    ref = gsm8k_answer(reference) if "####" in str(reference) else _first_number(str(reference))
    return ref is not None and gsm8k_answer(text) == ref


def _in_main_thread() -> bool:
    # math-verify's time limit is a SIGALRM, which only the main thread can set; elsewhere it runs without
    # one, on at most MAX_BOXED_CHARS characters
    return threading.current_thread() is threading.main_thread()


# Off the main thread math-verify warns on every call that it runs without its time limit: said once, above
logging.getLogger("math_verify.utils").setLevel(logging.ERROR)


@functools.lru_cache(maxsize=4096)  # a reference is parsed once per problem, not once per sample (~10 ms)
def _math_verify_parse(answer: str) -> tuple:
    from math_verify import LatexExtractionConfig, parse

    try:
        return tuple(parse("\\boxed{" + answer + "}", extraction_config=[LatexExtractionConfig()],
                           parsing_timeout=MATH_VERIFY_TIMEOUT_S if _in_main_thread() else None))
    except Exception:  # noqa: BLE001 - any failure to parse is "cannot parse": the fallback decides
        return ()


def math_equivalent(reference: str, answer: str) -> bool:
    """Two MATH answers (boxed contents) agree: symbolically through math-verify where both parse,
    else as normalised strings."""
    if not isinstance(answer, str) or not isinstance(reference, str):
        return False
    if len(answer) > MAX_BOXED_CHARS or len(reference) > MAX_BOXED_CHARS:
        return False
    gold, pred = _math_verify_parse(reference), _math_verify_parse(answer)
    if gold and pred:
        from math_verify import verify

        try:
            return bool(verify(list(gold), list(pred), timeout_seconds=MATH_VERIFY_TIMEOUT_S if _in_main_thread() else None))
        except Exception:  # noqa: BLE001 - a comparison that fails is no match
            return False
    return normalize_latex(answer) == normalize_latex(reference)


def math_correct(reference: str, text: str) -> bool:
    """Whether `text`'s last \\boxed{} answer agrees with MATH's `reference` (a boxed content)."""
    found = boxed_answer(text)
    return found is not None and math_equivalent(reference, found)
