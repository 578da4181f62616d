"""`arith`: procedurally generated multi-step word problems, our CPU stand-in for GSM8K.

A problem is a small graph of quantities: some people are given an amount of one item, others
are defined from them ("Bob has 3 more apples than Ann", "Cat has as many apples as Ann and Bob
together"), and the question asks for one of them. The knobs make the paper's mechanisms appear:

- `min_steps`/`max_steps`: derived quantities on the answer's path (multi-step dependencies).
- `n_distractors`: derived quantities the question does not need. Computing one is an
  *irrelevant* step: correct, harmless to the answer, invisible to a final-answer verifier.
- the operation words ("more", "fewer", "times", "together") are the *critical* choices: reading
  one wrongly sends the rest of the solution off course.
- `max_value` M: every amount is an integer in [0, M). It is the answer-space size: a solution
  with a wrong step still lands on the right answer by luck about 1 time in M.
- the teacher (our stand-in for GPT-4 writing D_syn) phrases each step in one of
  `teacher_styles` ways, orders independent steps at random and writes sums in either order:
  more varied than what a small model trained on it writes back.

Because the world knows every quantity, it labels any solution's steps exactly
(`label_steps`): right, wrong or irrelevant. Those labels validate Monte-Carlo credit later.
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field

from synthrl.tasks.base import Problem, split_lines
from synthrl.verify import CHECKER_VERSION, answers_match, extract_answer, last_integer

NAMES = ("Ann", "Bob", "Cat", "Dan", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jon",
         "Kim", "Lea", "Max", "Ned", "Oli", "Pam", "Quin", "Rex", "Sam", "Tom")
ITEMS = ("apples", "pears", "coins", "books", "cards", "shells", "stamps", "marbles")
OPS = ("more", "fewer", "times", "together")
SYMBOL = {"more": "+", "fewer": "-", "times": "*", "together": "+"}

FACT_TEMPLATES = {
    "base": "{e} has {v} {item} .",
    "more": "{e} has {k} more {item} than {a} .",
    "fewer": "{e} has {k} fewer {item} than {a} .",
    "times": "{e} has {k} times as many {item} as {a} .",
    "together": "{e} has as many {item} as {a} and {b} together .",
}
QUESTION_TEMPLATE = "How many {item} does {e} have ?"
# The teacher's phrasings of one step; the first is the plainest (used when teacher_styles=1).
STEP_TEMPLATES = (
    "{e} has {x} {o} {y} = {z} {item} .",
    "{x} {o} {y} = {z} , so {e} has {z} {item} .",
    "{e} : {x} {o} {y} = {z} .",
    "so {e} has {x} {o} {y} = {z} .",
    "then {e} gets {x} {o} {y} = {z} {item} .",
)
ANSWER_TEMPLATES = ("answer {z}", "the answer is {z}", "so the answer is {z} .")
WORDS = ("has", "more", "fewer", "than", "times", "as", "many", "and", "together", "How", "does",
         "have", "?", ".", ",", ":", "so", "then", "gets", "the", "answer", "is", "+", "-", "*", "=")

_EQUATION = re.compile(r"(?<![0-9])([0-9]{1,6}) ([-+*]) ([0-9]{1,6}) = ([0-9]{1,6})(?![0-9])", re.ASCII)
TEST_FRACTION = 10  # our choice: 1 in 10 possible problems belongs to the test split


def names_needed(max_steps: int, n_distractors: int) -> int:
    """The most people a story of up to max_steps steps and n_distractors distractors names."""
    return 2 * max_steps + 1 + n_distractors


@dataclass(frozen=True)
class ArithConfig:
    min_steps: int = 2  # our choice: GSM8K needs 2-8 steps; a ~1M-param model on a CPU manages 2-3
    max_steps: int = 3
    n_distractors: int = 1  # derived quantities the question does not need
    max_value: int = 20  # M: amounts are integers in [0, M); lucky right answers about 1/M
    p_together: float = 0.3  # chance a step joins two branches instead of extending one
    teacher_styles: int = len(STEP_TEMPLATES)  # phrasings the teacher draws from (1 = uniform)
    n_names: int = 10  # our choice: people to draw from; fewer are easier for a small model to copy
    shuffle_facts: bool = False  # facts in a random order (True) or as the story unfolds (GSM8K-like)
    ops: tuple[str, ...] = OPS

    def __post_init__(self) -> None:
        if not 1 <= self.min_steps <= self.max_steps <= 8:
            raise ValueError(f"need 1 <= min_steps <= max_steps <= 8, got {self.min_steps}, {self.max_steps}")
        if not 0 <= self.n_distractors <= 4:
            raise ValueError(f"n_distractors must be in 0..4, got {self.n_distractors}")
        if not 6 <= self.max_value <= 1000:
            raise ValueError(f"max_value (answer-space size) must be in 6..1000, got {self.max_value}")
        if not 0.0 <= self.p_together <= 1.0:
            raise ValueError(f"p_together is a probability, got {self.p_together}")
        if not 1 <= self.teacher_styles <= len(STEP_TEMPLATES):
            raise ValueError(f"teacher_styles must be in 1..{len(STEP_TEMPLATES)}, got {self.teacher_styles}")
        most_people = names_needed(self.max_steps, self.n_distractors)
        if not most_people <= self.n_names <= len(NAMES):
            raise ValueError(f"n_names must be in {most_people}..{len(NAMES)} for {self.max_steps} steps and "
                             f"{self.n_distractors} distractors, got {self.n_names}")
        unknown = set(self.ops) - set(OPS)
        if unknown or not {"more", "fewer"} <= set(self.ops):
            raise ValueError(f"ops must include 'more' and 'fewer' and be among {OPS}; got {self.ops}")


@dataclass
class _Quantity:
    name: str
    op: str  # "base" or one of OPS
    args: tuple[str, ...] = ()
    k: int = 0
    value: int = 0


@dataclass
class _Draft:
    item: str
    quantities: dict[str, _Quantity] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # creation order, a topological order


def _formula(q: dict, values: dict[str, int]) -> tuple[int, str, int]:
    """The step that computes a derived quantity (as stored in meta) from its inputs: (x, symbol, y)."""
    if q["op"] == "together":
        return values[q["args"][0]], "+", values[q["args"][1]]
    return values[q["args"][0]], SYMBOL[q["op"]], q["k"]


def _forms(q: dict, values: dict[str, int]) -> list[tuple[int, str, int]]:
    """Every equation that computes a derived quantity from its inputs: its defining step, and a
    doubling written as a sum (x + x for 2 times x: the same computation, which small models write)."""
    forms = [_formula(q, values)]
    if q["op"] == "times" and q["k"] == 2:
        x = values[q["args"][0]]
        forms.append((x, "+", x))
    return forms


class ArithWorld:
    """The arith task: problems, prompts, the teacher, the verifier and exact step labels."""

    name = "arith"
    checker = f"arith-answer-line/{CHECKER_VERSION}"

    def __init__(self, config: ArithConfig | None = None):
        self.config = config or ArithConfig()

    # ---- vocabulary (for the locally built tokenizer) -------------------------------------
    def vocabulary(self) -> list[str]:
        numbers = [str(i) for i in range(max(self.config.max_value, 10))]
        return [*WORDS, *NAMES, *ITEMS, *numbers]

    # ---- generation ------------------------------------------------------------------------
    def _unary(self, rng: random.Random, name: str, a: _Quantity) -> _Quantity:
        m, ops = self.config.max_value, self.config.ops
        choices = []
        if a.value < m - 1 and "more" in ops:
            choices.append("more")
        if a.value >= 1 and "fewer" in ops:
            choices.append("fewer")
        if a.value >= 1 and (m - 1) // a.value >= 2 and "times" in ops:
            choices.append("times")
        op = rng.choice(choices)
        if op == "more":
            k = rng.randint(1, min(m - 1 - a.value, m // 2))
            return _Quantity(name, op, (a.name,), k, a.value + k)
        if op == "fewer":
            k = rng.randint(1, max(1, a.value - 1))  # rarely down to 0, which would crowd the answers
            return _Quantity(name, op, (a.name,), k, a.value - k)
        k = rng.randint(2, min((m - 1) // a.value, 5))
        return _Quantity(name, op, (a.name,), k, a.value * k)

    def _draft(self, rng: random.Random) -> tuple[_Draft, str]:
        cfg = self.config
        names = iter(rng.sample(NAMES[:cfg.n_names], cfg.n_names))
        draft = _Draft(item=rng.choice(ITEMS))

        def add(q: _Quantity) -> _Quantity:
            draft.quantities[q.name] = q
            draft.order.append(q.name)
            return q

        def base() -> _Quantity:
            return add(_Quantity(next(names), "base", value=rng.randint(1, cfg.max_value // 2)))

        n_steps = rng.randint(cfg.min_steps, cfg.max_steps)
        frontier = [base()]  # quantities not yet used by a later step on the answer's path
        for step in range(n_steps):
            remaining = n_steps - step - 1  # steps left after this one
            if len(frontier) >= 2 and (len(frontier) - 1 > remaining - 1 or rng.random() < 0.5):
                a, b = rng.sample(frontier, 2)
                if a.value + b.value < cfg.max_value:
                    frontier = [q for q in frontier if q not in (a, b)]
                    frontier.append(add(_Quantity(next(names), "together", (a.name, b.name), value=a.value + b.value)))
                    continue
                # too large to join: extend a branch instead (a later step may join them)
            elif "together" in cfg.ops and len(frontier) <= remaining - 1 and rng.random() < cfg.p_together:
                frontier.append(base())
            a = rng.choice(frontier)
            frontier[frontier.index(a)] = add(self._unary(rng, next(names), a))
        # A join that never fit leaves several branches: the last is asked for, the others
        # become distractors (the answer does not need them).
        target = frontier[-1].name
        needed = self._ancestors(draft, target)
        for _ in range(cfg.n_distractors):
            pool = [n for n in draft.order if n in needed]
            add(self._unary(rng, next(names), draft.quantities[rng.choice(pool)]))
        return draft, target

    @staticmethod
    def _ancestors(draft: _Draft, target: str) -> set[str]:
        seen, stack = set(), [target]
        while stack:
            name = stack.pop()
            if name not in seen:
                seen.add(name)
                stack.extend(draft.quantities[name].args)
        return seen

    def _fact_order(self, rng: random.Random, draft: _Draft, needed: set[str]) -> list[str]:
        """Facts come after those they refer to: in a random such order (shuffle_facts), or as
        the story unfolds, with each distractor at a random place after the fact it refers to."""
        if not self.config.shuffle_facts:
            order = [n for n in draft.order if n in needed]
            for name in (n for n in draft.order if n not in needed):
                after = max((order.index(a) + 1 for a in draft.quantities[name].args), default=0)
                order.insert(rng.randint(after, len(order)), name)
            return order
        order, placed, pending = [], set(), list(draft.order)
        while pending:
            ready = [n for n in pending if set(draft.quantities[n].args) <= placed]
            name = rng.choice(ready)
            pending.remove(name)
            placed.add(name)
            order.append(name)
        return order

    def _question(self, rng: random.Random, draft: _Draft, target: str) -> str:
        facts = []
        for name in self._fact_order(rng, draft, self._ancestors(draft, target)):
            q = draft.quantities[name]
            facts.append(FACT_TEMPLATES[q.op].format(
                e=q.name, v=q.value, k=q.k, item=draft.item,
                a=q.args[0] if q.args else "", b=q.args[1] if len(q.args) > 1 else ""))
        facts.append(QUESTION_TEMPLATE.format(item=draft.item, e=target))
        return " ".join(facts)

    def teacher_solution(self, problem: Problem, rng: random.Random) -> str:
        """A correct step-by-step solution in a randomly drawn style (the capable model)."""
        return self._solution(problem, rng, varied=True)

    def plain_solution(self, problem: Problem) -> str:
        """The same solution in the plainest style: steps in story order, operands as defined,
        the first phrasing. Our stand-in for the worked solutions a base model read in pretraining."""
        return self._solution(problem, random.Random(0), varied=False)

    def _solution(self, problem: Problem, rng: random.Random, varied: bool) -> str:
        meta = problem.meta
        values = {n: q["value"] for n, q in meta["quantities"].items()}
        done = {n for n, q in meta["quantities"].items() if q["op"] == "base"}
        todo = [n for n in meta["needed_steps"]]
        lines = []
        while todo:
            ready = [n for n in todo if set(meta["quantities"][n]["args"]) <= done]
            name = rng.choice(ready) if varied else ready[0]  # independent steps come in any order
            todo.remove(name)
            done.add(name)
            x, o, y = _formula(meta["quantities"][name], values)
            if varied and o in "+*" and rng.random() < 0.5:
                x, y = y, x
            style = rng.randrange(self.config.teacher_styles) if varied else 0
            lines.append(STEP_TEMPLATES[style].format(e=name, x=x, o=o, y=y, z=values[name], item=meta["item"]))
        style = rng.randrange(min(self.config.teacher_styles, len(ANSWER_TEMPLATES))) if varied else 0
        lines.append(ANSWER_TEMPLATES[style].format(z=problem.answer))
        return "\n".join(lines)

    def _problem(self, rng: random.Random, split: str) -> Problem | None:
        draft, target = self._draft(rng)
        question = self._question(rng, draft, target)
        digest = hashlib.sha1(question.encode()).hexdigest()
        in_test = int(digest[:8], 16) % TEST_FRACTION == 0
        if in_test != (split == "test"):
            return None
        needed = self._ancestors(draft, target)
        needed_steps = [n for n in draft.order if n in needed and draft.quantities[n].op != "base"]
        if len(needed_steps) < self.config.min_steps:  # a join that never fit shortened the path
            return None
        quantities = {n: {"op": q.op, "args": list(q.args), "k": q.k, "value": q.value}
                      for n, q in draft.quantities.items()}
        meta = {
            "item": draft.item,
            "target": target,
            "quantities": quantities,
            "needed_steps": needed_steps,
        }
        return Problem(uid=f"arith-{digest[:12]}", question=question,
                       answer=str(draft.quantities[target].value), meta=meta)

    def make_problems(self, split: str, n: int, seed: int) -> list[Problem]:
        """n distinct problems of one split, with teacher solutions. Train and test never
        overlap: a problem's split is fixed by a hash of its text, whatever the seed."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        rng = random.Random(f"arith/{split}/{seed}")
        problems: dict[str, Problem] = {}
        attempts = 0
        while len(problems) < n:
            attempts += 1
            if attempts > 200 * n + 1000:
                raise RuntimeError(f"could only make {len(problems)} of {n} distinct {split} problems: "
                                   "raise max_value or max_steps for a larger problem space")
            p = self._problem(rng, split)
            if p is not None and p.question not in problems:
                problems[p.question] = Problem(p.uid, p.question, p.answer,
                                               self.teacher_solution(p, rng), p.meta)
        return list(problems.values())

    def pretrain_corpus(self, n_docs: int, seed: int, solved_fraction: float = 0.0, style: str = "plain",
                        unsolved_ops: tuple[str, ...] = ()) -> list[str]:
        """pi_base's corpus: the world's arithmetic and its problem statements; a fraction
        `solved_fraction` of the statements come with a worked solution, in the plain style or
        in the teacher's (`style`). A statement whose solution needs a step of one of `unsolved_ops`
        never comes solved: pi_base reads such problems but never how they are solved.

        Our design: the base model knows the facts ("7 + 3 = 10") and the language of the
        problems. With solved_fraction = 0 it has never seen a solution, so the format and the
        reasoning come from SFT alone; with solved_fraction > 0 it has a prior over solutions,
        as a math-pretrained model does, and the teacher's varied phrasings are partly foreign to it.
        """
        if not 0.0 <= solved_fraction <= 1.0:
            raise ValueError(f"solved_fraction is a fraction, got {solved_fraction}")
        if style not in ("plain", "teacher"):
            raise ValueError(f"style must be 'plain' (one phrasing) or 'teacher' (the teacher's), got {style!r}")
        if unknown := set(unsolved_ops) - set(OPS):
            raise ValueError(f"unsolved_ops must be among {OPS}, got {sorted(unknown)}")
        rng = random.Random(f"arith/pretrain/{seed}")
        m = self.config.max_value
        docs = []
        stories = self.make_problems("train", n_docs // 2 + 1, seed + 7919)
        for i in range(n_docs):
            if i % 2:
                story = stories[i // 2]
                solved = rng.random() < solved_fraction and not self.step_ops(story) & set(unsolved_ops)
                solution = self.plain_solution(story) if style == "plain" else self.teacher_solution(story, rng)
                docs.append(f"{self.prompt(story)}{solution}" if solved else self._story(story, rng))
                continue
            facts = []
            for _ in range(12):
                x = rng.randrange(m)
                o = rng.choice("+-*")
                if o == "+":
                    y = rng.randrange(m - x)
                    z = x + y
                elif o == "-":
                    y = rng.randint(0, x)
                    z = x - y
                else:
                    x = rng.randint(1, m - 1)
                    y = rng.randint(0, (m - 1) // x)
                    z = x * y
                facts.append(f"{x} {o} {y} = {z}")
            docs.append(" . ".join(facts) + " .")
        return docs

    @staticmethod
    def step_ops(problem: Problem) -> set[str]:
        """The operations of the steps a problem's solution needs."""
        quantities = problem.meta["quantities"]
        return {quantities[n]["op"] for n in problem.meta["needed_steps"]}

    @staticmethod
    def _story(problem: Problem, rng: random.Random) -> str:
        """A problem's facts without its question, then how many some people have: what a
        math-pretrained base model knows about such stories (values, what "more" and "times"
        mean), without the step-by-step equations or the answer line that SFT teaches."""
        facts = problem.question.rsplit(" How many", 1)[0]
        quantities = problem.meta["quantities"]
        told = rng.sample(sorted(quantities), k=rng.randint(1, len(quantities)))
        recall = " ".join(FACT_TEMPLATES["base"].format(e=n, v=quantities[n]["value"], item=problem.meta["item"])
                          for n in told)
        return f"{facts} {recall}"

    # ---- prompts, verification, steps, labels ----------------------------------------------
    def prompt(self, problem: Problem) -> str:
        return problem.question + "\n"

    def is_correct(self, problem: Problem, text: str) -> bool:
        return answers_match(extract_answer(text), problem.answer)

    def is_finished(self, problem: Problem, text: str) -> bool:
        """The text has an answer line."""
        return extract_answer(text) is not None

    def final_answer(self, text: str) -> str | None:
        return extract_answer(text)

    def split_steps(self, text: str) -> list[str]:
        return split_lines(text)

    def label_steps(self, problem: Problem, text: str) -> list[str]:
        """Exact labels for each step of a solution: 'right', 'wrong' or 'irrelevant'.

        Labels judge the computation, not the wording: a step's equation must be the defining
        operation of some quantity of the problem (or a doubling written as a sum, x + x for 2 times x),
        on the true values, with true arithmetic. The
        name a step gives only breaks ties (small models often misname a quantity they compute
        correctly, which does not change the answer).
        right: computes a quantity the answer needs, for the first time (or states the true
        answer). wrong: false arithmetic, an equation that computes no quantity of the problem
        (a misread operation or operand), a false value claimed for someone, or a wrong answer.
        irrelevant: true but unneeded (a distractor, a repeat, a restated given, filler).
        """
        quantities = problem.meta["quantities"]
        values = {n: q["value"] for n, q in quantities.items()}
        formulas = {n: _forms(q, values) for n, q in quantities.items() if q["op"] != "base"}
        needed = problem.meta["needed_steps"]
        computed: set[str] = set()
        labels = []
        for line in self.split_steps(text):
            words = line.split()
            if "answer" in words:
                labels.append("right" if answers_match(last_integer(line), problem.answer) else "wrong")
                continue
            name = next((t for t in words if t in quantities), None)
            eq = _EQUATION.search(line)
            if eq is None and "=" in line:  # an equation we cannot read (absurd numbers, other digits):
                labels.append("wrong")  # it computes no quantity of the problem (all are below M <= 1000)
                continue
            if eq is None:  # a claim like "Bob has 10 apples ." or filler
                claim = last_integer(line)
                ok = name is None or claim is None or claim == str(values[name])
                labels.append("irrelevant" if ok else "wrong")
                continue
            x, o, y, z = int(eq[1]), eq[2], int(eq[3]), int(eq[4])
            if z != {"+": x + y, "-": x - y, "*": x * y}[o]:
                labels.append("wrong")
                continue
            matches = [n for n, forms in formulas.items() for fx, fo, fy in forms
                       if fo == o and ((x, y) == (fx, fy) or (fo in "+*" and (y, x) == (fx, fy)))]
            # prefer the named quantity, then a needed one not yet computed
            matches.sort(key=lambda n: (n != name, not (n in needed and n not in computed)))
            if not matches:
                labels.append("wrong")
            elif matches[0] in needed and matches[0] not in computed:
                labels.append("right")
                computed.add(matches[0])
            else:
                labels.append("irrelevant")
        return labels


def first_wrong_step(labels: list[str]) -> int | None:
    """Index of the first 'wrong' label (the exact first pit), or None."""
    return labels.index("wrong") if "wrong" in labels else None


def flip_first_operation(solution: str) -> str:
    """The solution with its first '+' and '-' swapped: the world's corruption of a solution at a
    critical step (an operation word misread), used by the demos and the tests."""
    lines = solution.split("\n")
    for i, line in enumerate(lines):
        for a, b in ((" + ", " - "), (" - ", " + ")):
            if a in line:
                lines[i] = line.replace(a, b, 1)
                return "\n".join(lines)
    return solution
