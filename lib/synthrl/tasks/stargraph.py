"""The path-star graph task of Bachmann & Nagarajan (2024), "The Pitfalls of Next-Token Prediction".

G(d, l, N): a start node with d arms of l - 1 further nodes each, node labels drawn without
repetition from 0..N-1 per graph; the goal is the end of one arm. One sample, as they write it:

    a,b|c,d|...|y,z/start,goal=start,n1,...,goal

the d(l - 1) directed edges (away from the start) in random order, joined by '|', then '/', the
start and goal, '=', and the l nodes of the path. Each number is one token; the separators are
'|', '/' and '='; their tokenizer drops the commas. Loss is on the path only. The critical token
is the node after the start: every later node follows from the previous one by the single
outgoing edge (the "Clever Hans" shortcut), so a teacher-forced model stalls near 1/d there.
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from pathlib import Path

from synthrl.datafiles import DataFormatError, atomic_write_text
from synthrl.tasks.base import Problem

CRITICAL_INDEX = 1  # the path's node after the start
MAX_TEXT_CHARS = 4_000  # our choice: a G(5,20,1000) path is under 100 characters
_LINE = re.compile(r"(?P<edges>[0-9]+,[0-9]+(?:\|[0-9]+,[0-9]+)*)/(?P<start>[0-9]+),(?P<goal>[0-9]+)="
                   r"(?P<path>[0-9]+(?:,[0-9]+)*)", re.ASCII)
_NODE = re.compile(r"(?<![0-9])[0-9]{1,6}(?![0-9])", re.ASCII)
TEST_FRACTION = 10  # our choice, as in arith: 1 in 10 graphs belongs to the test split


@dataclass(frozen=True)
class StarGraphConfig:
    d: int = 2  # arms (Bachmann & Nagarajan: G(2,5,50))
    l: int = 5  # nodes on the path, start and goal included
    n_nodes: int = 50  # label range N

    def __post_init__(self) -> None:
        if self.d < 2 or self.l < 2:
            raise ValueError(f"need d >= 2 arms and l >= 2 path nodes, got d={self.d}, l={self.l}")
        if self.n_nodes < self.d * (self.l - 1) + 1:
            raise ValueError(f"G({self.d},{self.l},N) has {self.d * (self.l - 1) + 1} nodes: "
                             f"n_nodes must be at least that, got {self.n_nodes}")


@dataclass(frozen=True)
class StarGraph:
    edges: tuple[tuple[int, int], ...]
    start: int
    goal: int
    path: tuple[int, ...]

    def prefix(self) -> str:
        edges = "|".join(f"{a},{b}" for a, b in self.edges)
        return f"{edges}/{self.start},{self.goal}="

    def line(self) -> str:
        """The sample exactly as Bachmann & Nagarajan write it."""
        return self.prefix() + ",".join(map(str, self.path))


def generate(cfg: StarGraphConfig, rng: random.Random) -> StarGraph:
    labels = rng.sample(range(cfg.n_nodes), cfg.d * (cfg.l - 1) + 1)
    start, rest = labels[0], labels[1:]
    arms = [rest[i * (cfg.l - 1):(i + 1) * (cfg.l - 1)] for i in range(cfg.d)]
    edges = [(a, b) for arm in arms for a, b in zip([start, *arm[:-1]], arm)]
    rng.shuffle(edges)
    path = (start, *arms[0])  # labels are random, so the first arm is as good as any
    return StarGraph(tuple(edges), start, path[-1], path)


def parse_line(line: str, where: str = "<string>") -> StarGraph:
    """A sample in the published format; a DataFormatError names `where` (file:line) otherwise."""
    m = _LINE.fullmatch(line.strip())
    if m is None:
        raise DataFormatError(f"{where}: not a star-graph line 'a,b|c,d|.../start,goal=path'")
    edges = tuple(tuple(int(x) for x in e.split(",")) for e in m["edges"].split("|"))
    path = tuple(int(x) for x in m["path"].split(","))
    start, goal = int(m["start"]), int(m["goal"])
    if path[0] != start or path[-1] != goal:
        raise DataFormatError(f"{where}: the path must run from the start {start} to the goal {goal}")
    if not set(zip(path, path[1:])) <= set(edges):
        raise DataFormatError(f"{where}: the path uses an edge the graph does not have")
    return StarGraph(edges, start, goal, path)  # type: ignore[arg-type]


def load(path: str | Path) -> list[StarGraph]:
    """One graph a line (blank lines skipped)."""
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        return [parse_line(line, f"{path}:{i}") for i, line in enumerate(f, start=1) if line.strip()]


def save(path: str | Path, graphs: list[StarGraph]) -> Path:
    return atomic_write_text(path, "".join(g.line() + "\n" for g in graphs))


def predicted_path(text: str) -> list[int]:
    """The node labels a model wrote (commas or spaces between them), bounded; never raises."""
    if not isinstance(text, str):
        return []
    return [int(x) for x in _NODE.findall(text[:MAX_TEXT_CHARS])]


class StarGraphTask:
    """The task protocol for star graphs: prompt = edges and query, solution = the path."""

    name = "stargraph"
    checker = "stargraph-exact-path/1"  # `is_correct`'s reading, versioned as `Task.checker` says

    def __init__(self, config: StarGraphConfig | None = None):
        self.config = config or StarGraphConfig()

    def vocabulary(self) -> list[str]:
        return [*(str(i) for i in range(self.config.n_nodes)), "|", "/", "=", ","]

    def problem(self, g: StarGraph) -> Problem:
        digest = hashlib.sha1(g.prefix().encode()).hexdigest()
        meta = {"edges": [list(e) for e in g.edges], "start": g.start, "goal": g.goal, "path": list(g.path)}
        path = ",".join(map(str, g.path))
        return Problem(uid=f"star-{digest[:12]}", question=g.prefix(), answer=path, solution=path, meta=meta)

    def make_problems(self, split: str, n: int, seed: int) -> list[Problem]:
        """n distinct graphs of one split; a graph's split is fixed by a hash of its text."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        rng = random.Random(f"stargraph/{split}/{seed}")
        out: dict[str, Problem] = {}
        for _ in range(200 * n + 1000):
            p = self.problem(generate(self.config, rng))
            if (int(p.uid[5:13], 16) % TEST_FRACTION == 0) == (split == "test"):
                out.setdefault(p.question, p)
            if len(out) == n:
                return list(out.values())
        raise RuntimeError(f"could only make {len(out)} of {n} distinct {split} graphs: raise n_nodes")

    def prompt(self, problem: Problem) -> str:
        return problem.question

    def is_correct(self, problem: Problem, text: str) -> bool:
        """Exact path: every node, in order, nothing more."""
        return predicted_path(text) == problem.meta["path"]

    def is_finished(self, problem: Problem, text: str) -> bool:
        """The path has reached the goal (or has grown past the true path's length)."""
        path = predicted_path(text)
        return bool(path) and (path[-1] == problem.meta["goal"] or len(path) >= len(problem.meta["path"]))

    def split_steps(self, text: str) -> list[str]:
        """Each path node is a step."""
        return [str(x) for x in predicted_path(text)]

    def label_steps(self, problem: Problem, text: str) -> list[str]:
        """A node is right iff it is the true path's node at that place (labels are distinct, so
        a path that left the true arm never returns to it)."""
        path = problem.meta["path"]
        return ["right" if i < len(path) and x == path[i] else "wrong" for i, x in enumerate(predicted_path(text))]
