"""Hand-made solutions of arith problems, for tests that need steps of a known label."""


def problem_with_distractor(world):
    """A problem whose first needed step is a "more"/"fewer" one, and a distractor quantity of it."""
    for p in world.make_problems("train", 200, seed=5):
        qs = p.meta["quantities"]
        extra = [n for n, q in qs.items() if q["op"] in ("more", "fewer") and n not in p.meta["needed_steps"]]
        first = p.meta["needed_steps"][0]
        if extra and qs[first]["op"] in ("more", "fewer"):
            return p, extra[0]
    raise AssertionError("no suitable problem")


def step_text(p, name, result=None, swap_op=False):
    """The step computing quantity `name` of problem p (its operation swapped, or another result)."""
    qs = p.meta["quantities"]
    q = qs[name]
    x = qs[q["args"][0]]["value"]
    o = {"more": "+", "fewer": "-"}[q["op"]]
    if swap_op:
        o = "-" if o == "+" else "+"
    true = x + q["k"] if o == "+" else x - q["k"]
    return f"{name} has {x} {o} {q['k']} = {true if result is None else result} {p.meta['item']} ."
