import itertools
from math import isclose

import pytest

from synthrl.evaluate import pass_at_k, test_error as error_rate
from synthrl.tasks.arith import ArithWorld


@pytest.mark.parametrize("n, c, k", [(5, 0, 1), (5, 2, 1), (5, 2, 3), (6, 5, 2), (4, 4, 4)])
def test_pass_at_k_matches_enumeration(n, c, k):
    samples = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    brute = sum(any(samples[i] for i in s) for s in subsets) / len(subsets)
    assert isclose(pass_at_k(n, c, k), brute)


def test_pass_at_k_rejects_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_test_error_counts_wrong_answers():
    world = ArithWorld()
    problems = world.make_problems("test", 4, seed=0)
    outputs = [problems[0].solution, "answer 999", "", problems[3].solution]
    assert error_rate(world, problems, outputs) == 0.5
