"""The star-graph task matches Bachmann & Nagarajan's published format and structure."""
import random
from collections import Counter

import pytest

from synthrl.datafiles import DataFormatError
from synthrl.tasks.stargraph import (CRITICAL_INDEX, StarGraphConfig, StarGraphTask, generate, load,
                                     parse_line, save)

# Written out by hand in the published format: G(2,5,50) and G(3,3,20).
HAND_LINES = [
    ("25,40|7,12|4,19|40,2|12,33|7,25|33,4|2,8/7,19=7,12,33,4,19", 2, 5),
    ("14,3|5,1|17,11|5,17|1,9|5,14/5,9=5,1,9", 3, 3),
]


def check_structure(g, d, l):
    out_degree = Counter(a for a, _ in g.edges)
    in_degree = Counter(b for _, b in g.edges)
    assert len(g.edges) == d * (l - 1)
    assert out_degree[g.start] == d and in_degree[g.start] == 0
    assert all(in_degree[b] == 1 for _, b in g.edges)  # edges point away from the start: a tree
    assert len(g.path) == l and g.path[0] == g.start and g.path[-1] == g.goal
    assert all((a, b) in set(g.edges) for a, b in zip(g.path, g.path[1:]))  # the path is an arm
    assert out_degree[g.goal] == 0  # ... that ends at a leaf


@pytest.mark.parametrize("line, d, l", HAND_LINES)
def test_parses_hand_written_lines_in_the_published_format(line, d, l):
    g = parse_line(line)
    check_structure(g, d, l)
    assert g.line() == line  # and writes them back unchanged


@pytest.mark.parametrize("d, l, n", [(2, 5, 50), (3, 4, 20), (5, 5, 30)])
def test_generator_output_has_the_star_structure(d, l, n):
    rng = random.Random(0)
    for _ in range(50):
        g = generate(StarGraphConfig(d, l, n), rng)
        check_structure(g, d, l)
        assert parse_line(g.line()) == g
        nodes = {x for e in g.edges for x in e}
        assert len(nodes) == d * (l - 1) + 1 and max(nodes) < n


def test_loader_round_trip_and_errors_name_file_and_line(tmp_path):
    graphs = [parse_line(line) for line, _, _ in HAND_LINES]
    path = save(tmp_path / "graphs.txt", graphs)
    assert load(path) == graphs
    bad = tmp_path / "bad.txt"
    bad.write_text(HAND_LINES[0][0] + "\n1,2|3/1,2=1,2\n")
    with pytest.raises(DataFormatError, match=r"bad\.txt:2: not a star-graph line"):
        load(bad)
    bad.write_text("1,2|2,3/1,3=1,4,3\n")
    with pytest.raises(DataFormatError, match=r"bad\.txt:1: the path uses an edge"):
        load(bad)


def test_splits_are_disjoint_and_seeded():
    task = StarGraphTask()
    train = task.make_problems("train", 300, seed=0)
    assert [p.uid for p in train] == [p.uid for p in task.make_problems("train", 300, seed=0)]
    assert not {p.question for p in train} & {p.question for p in task.make_problems("test", 100, seed=0)}


def test_verifier_and_exact_labels():
    task = StarGraphTask()
    p = task.make_problems("train", 1, seed=0)[0]
    path = p.meta["path"]
    other_arm = next(b for a, b in p.meta["edges"] if a == path[0] and b != path[1])
    assert task.prompt(p).endswith("=") and task.is_correct(p, p.solution)
    assert task.is_correct(p, " ".join(map(str, path)))  # a model's spaced output counts too
    wrong = [path[0], other_arm]
    assert not task.is_correct(p, ",".join(map(str, wrong)))
    assert task.label_steps(p, ",".join(map(str, wrong)))[CRITICAL_INDEX] == "wrong"
    assert task.label_steps(p, p.solution) == ["right"] * len(path)
    assert not task.is_correct(p, p.solution + ",7")  # nothing more than the path
    for absurd in ["", "9" * 10_000, "١,٢", None]:
        assert not task.is_correct(p, absurd)


def test_config_validation():
    with pytest.raises(ValueError, match="n_nodes must be at least"):
        StarGraphConfig(d=5, l=20, n_nodes=50)


def test_tokenizer_one_token_per_number_and_separator():
    from synthrl.models import build_stargraph_tokenizer

    tok = build_stargraph_tokenizer(50)
    line, _, _ = HAND_LINES[0]
    g = parse_line(line)
    ids = tok(line, add_special_tokens=False)["input_ids"]
    assert tok.unk_token_id not in ids
    # 2 numbers per edge, '|' between edges, '/', start, goal, '=', then the path: no commas
    assert len(ids) == 3 * len(g.edges) - 1 + 4 + len(g.path)
    prompt = tok(g.prefix(), add_special_tokens=False)["input_ids"]
    assert ids[:len(prompt)] == prompt  # the prompt's tokens are a prefix of the whole line's
    task = StarGraphTask()
    p = task.problem(g)
    assert task.is_correct(p, tok.decode(ids[len(prompt):]))  # "7 12 33 4 19" reads as the path
