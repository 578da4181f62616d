import dataclasses

import pytest

from arith_helpers import problem_with_distractor, step_text

from synthrl.tasks.arith import STEP_TEMPLATES, ArithConfig, ArithWorld, first_wrong_step


@pytest.fixture(scope="module")
def world():
    return ArithWorld(ArithConfig())


@pytest.fixture(scope="module")
def train(world):
    return world.make_problems("train", 300, seed=0)


def test_same_seed_same_problems_and_solutions(world, train):
    again = world.make_problems("train", 300, seed=0)
    assert [p.to_dict() for p in again] == [p.to_dict() for p in train]
    other = world.make_problems("train", 300, seed=1)
    assert {p.question for p in other} != {p.question for p in train}


def test_train_and_test_never_overlap(world):
    train = world.make_problems("train", 2000, seed=3)
    test = world.make_problems("test", 300, seed=3)
    assert not {p.question for p in train} & {p.question for p in test}
    assert len({p.question for p in train}) == 2000


def test_teacher_solutions_are_correct_and_every_step_right(world, train):
    for p in train:
        assert world.is_correct(p, p.solution)
        labels = world.label_steps(p, p.solution)
        assert labels and set(labels) == {"right"}
        assert len(labels) == len(p.meta["needed_steps"]) + 1  # steps + the answer line


def test_knobs_shape_the_problems():
    cfg = ArithConfig(min_steps=3, max_steps=3, n_distractors=2, max_value=30)
    problems = ArithWorld(cfg).make_problems("train", 100, seed=0)
    assert all(len(p.meta["needed_steps"]) == 3 for p in problems)
    for p in problems:
        derived = [n for n, q in p.meta["quantities"].items() if q["op"] != "base"]
        assert len(derived) - len(p.meta["needed_steps"]) >= 2  # the distractors
        assert all(0 <= q["value"] < 30 for q in p.meta["quantities"].values())


def test_teacher_is_more_varied_than_one_style(train):
    uniform = ArithWorld(ArithConfig(teacher_styles=1)).make_problems("train", 50, seed=0)
    first_words = {line.split()[1] for p in uniform for line in p.solution.split("\n")[:-1]}
    assert first_words == {"has"}  # one style: "<name> has x o y = z <item> ."
    varied_first = {line.split()[0] for p in train for line in p.solution.split("\n")[:-1]}
    assert {"so", "then"} <= varied_first


def test_exact_labels_on_hand_made_solutions(world):
    p, distractor = problem_with_distractor(world)
    steps = p.solution.split("\n")
    first = p.meta["needed_steps"][0]
    # an irrelevant (distractor) step inserted before the real solution
    text = "\n".join([step_text(p, distractor)] + steps)
    assert world.label_steps(p, text) == ["irrelevant"] + ["right"] * len(steps)
    # a wrong operation in the first step is wrong, whatever follows
    wrong = "\n".join([step_text(p, first, swap_op=True)] + steps[1:])
    labels = world.label_steps(p, wrong)
    assert labels[0] == "wrong" and first_wrong_step(labels) == 0
    # false arithmetic is wrong; repeating a right step is irrelevant
    bad_sum = step_text(p, first, result=(p.meta["quantities"][first]["value"] + 1) % 20)
    assert world.label_steps(p, bad_sum)[0] == "wrong"
    assert world.label_steps(p, "\n".join([steps[0], steps[0]]))[1] == "irrelevant"
    # a wrong answer line is wrong; filler is irrelevant
    assert world.label_steps(p, "answer 999") == ["wrong"]
    assert world.label_steps(p, "let us see") == ["irrelevant"]


def test_a_doubling_written_as_a_sum_is_the_same_computation(world):
    """"9 + 9 = 18" for "2 times as many as Ivy (9)" computes the quantity (pi_sft writes doublings so);
    "9 + 2 = 11" for it does not."""
    for p in world.make_problems("train", 400, seed=3):
        qs = p.meta["quantities"]
        first = p.meta["needed_steps"][0]
        if qs[first]["op"] == "times" and qs[first]["k"] == 2:
            break
    else:
        raise AssertionError("no problem whose first step doubles")
    x = qs[qs[first]["args"][0]]["value"]
    assert world.label_steps(p, f"{first} has {x} + {x} = {2 * x} .") == ["right"]
    assert world.label_steps(p, f"{first} has {x} * 2 = {2 * x} .") == ["right"]
    assert world.label_steps(p, f"{first} has {x} + 2 = {x + 2} .")[0] in ("wrong", "irrelevant")


def test_lucky_answer_through_a_wrong_step(world):
    """The verifier accepts a right answer reached through a wrong step; the labels do not."""
    p, _ = problem_with_distractor(world)
    steps = p.solution.split("\n")
    first = p.meta["needed_steps"][0]
    spurious = "\n".join([step_text(p, first, swap_op=True)] + steps[1:])
    assert world.is_correct(p, spurious)
    assert "wrong" in world.label_steps(p, spurious)


@pytest.mark.parametrize("bad", [dict(min_steps=3, max_steps=2), dict(max_value=3), dict(n_distractors=9),
                                 dict(teacher_styles=len(STEP_TEMPLATES) + 1), dict(ops=("times",))])
def test_config_rejects_impossible_values(bad):
    with pytest.raises(ValueError):
        dataclasses.replace(ArithConfig(), **bad)


def test_labels_survive_absurd_text(world, train):
    p = train[0]
    assert world.label_steps(p, "") == [] and world.label_steps(p, "\n\n\n") == []
    # absurd claims are wrong steps, never right or harmless ones
    for text in ["answer " + "9" * 5000, "Bob has 99999999 + 1 = 3", "١ + ٢ = ٣", f"answer {int(p.answer) + 1}",
                 "Bob has 7 + 3 = 11 apples ."]:
        assert world.label_steps(p, text) == ["wrong"], text


def test_labels_judge_the_computation_not_the_name(world):
    p, distractor = problem_with_distractor(world)
    first = p.meta["needed_steps"][0]
    renamed = step_text(p, first).replace(first, distractor, 1)  # right computation, wrong name
    assert world.label_steps(p, renamed) == ["right"]
    # true arithmetic that computes no quantity of the problem (every amount is below M = 20)
    assert world.label_steps(p, "Zed has 30 + 1 = 31 .") == ["wrong"]


def test_plain_solutions_are_correct_and_the_corpus_holds_the_asked_fraction(world, train):
    for p in train[:50]:
        plain = world.plain_solution(p)
        assert world.is_correct(p, plain) and set(world.label_steps(p, plain)) == {"right"}
        assert plain == world.plain_solution(p)  # one style, one order: deterministic
    none = world.pretrain_corpus(400, seed=0)
    half = world.pretrain_corpus(400, seed=0, solved_fraction=0.5)
    solved = [d for d in half if "\n" in d]
    assert not any("\n" in d for d in none) and 60 <= len(solved) <= 140  # about half of 200 stories
    assert all("answer" in d.split("\n")[-1] for d in solved)
    with pytest.raises(ValueError):
        world.pretrain_corpus(10, seed=0, solved_fraction=1.5)


def test_unsolved_ops_are_never_shown_solved(world):
    """pi_base may read the problems needing a step of some operation only unsolved: no solved
    document then has such a step, and every other story is solved (solved_fraction 1)."""
    docs = world.pretrain_corpus(600, seed=0, solved_fraction=1.0, style="teacher", unsolved_ops=("times",))
    stories = world.make_problems("train", 600 // 2 + 1, 0 + 7919)[:300]
    by_question = {world.prompt(p).strip(): p for p in stories}
    solved = [d for d in docs if "\n" in d]
    assert solved and all("times" not in world.step_ops(by_question[d.split("\n")[0]]) for d in solved)
    needing = sum("times" in world.step_ops(p) for p in stories)
    assert 0 < needing < len(stories) and len(solved) == len(stories) - needing
    with pytest.raises(ValueError, match="unsolved_ops"):
        world.pretrain_corpus(10, seed=0, unsolved_ops=("divide",))


def test_world_explorer_takes_more_names_for_longer_stories(capsys):
    """Notebook 01: more steps need more people in a story; the explorer raises its names control
    instead of printing an invalid setting (a max of 5 or more steps did, with 10 names)."""
    pytest.importorskip("ipywidgets")
    from synthrl.widgets import world_explorer

    box = world_explorer(ArithConfig())
    controls = {c.description: c for row in box.children[:2] for c in row.children}
    controls["max steps"].value = 6
    assert controls["names"].value == 2 * 6 + 1 + ArithConfig().n_distractors
    assert "invalid setting" not in capsys.readouterr().out


def test_control_handlers_run_one_at_a_time_whichever_thread_calls_them():
    """ipykernel may call a widget's handler on a subshell's thread beside the main one (JupyterLab 4.6 sends
    widget messages over a subshell): two handlers never draw at once."""
    import threading
    import time

    from synthrl.widgets import _one_at_a_time

    inside, overlaps = [], []

    def handler(_=None):
        inside.append(1)
        overlaps.append(len(inside))
        time.sleep(0.05)
        inside.pop()

    serial = _one_at_a_time(handler)
    threads = [threading.Thread(target=serial) for _ in range(4)]
    for t in threads:
        t.start()
    serial()
    for t in threads:
        t.join()
    assert overlaps == [1] * 5
