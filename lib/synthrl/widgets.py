"""ipywidgets panels for the notebooks. Each panel calls the same library functions the studies
use; the HTML helpers are plain functions so a notebook can show them without a widget."""
from __future__ import annotations

import dataclasses
import html

from synthrl.tasks.arith import ArithConfig, ArithWorld, first_wrong_step
from synthrl.tasks.base import Problem

LABEL_COLORS = {"right": "#d9f2d9", "wrong": "#f7d4d4", "irrelevant": "#fff2cc"}


def labeled_solution_html(world: ArithWorld, problem: Problem, text: str, title: str = "") -> str:
    """A solution with each step coloured by its exact label, the first wrong step marked, and
    the verifier's verdict."""
    labels = world.label_steps(problem, text)
    pit = first_wrong_step(labels)
    rows = []
    for i, (step, label) in enumerate(zip(world.split_steps(text), labels)):
        mark = " &larr; first wrong step" if i == pit else ""
        rows.append(f'<div style="background:{LABEL_COLORS[label]};padding:2px 6px;font-family:monospace">'
                    f"{html.escape(step)} <i>[{label}]</i>{mark}</div>")
    verdict = "correct" if world.is_correct(problem, text) else "incorrect"
    head = f"<b>{html.escape(title)}</b><br>" if title else ""
    return (f"{head}<div style='font-family:monospace;margin-bottom:4px'>{html.escape(problem.question)}</div>"
            + "".join(rows) + f"<div>verifier: <b>{verdict}</b> (answer {html.escape(problem.answer)})</div>")


def world_explorer(config: ArithConfig | None = None):
    """Sliders for the arith world's knobs; shows a fresh problem, the teacher's solution with its
    labels, and a corrupted copy (first step's operation flipped) with its labels."""
    import ipywidgets as w
    from IPython.display import HTML, display

    cfg = config or ArithConfig()
    controls = {
        "min_steps": w.IntSlider(value=cfg.min_steps, min=1, max=8, description="min steps"),
        "max_steps": w.IntSlider(value=cfg.max_steps, min=1, max=8, description="max steps"),
        "n_distractors": w.IntSlider(value=cfg.n_distractors, min=0, max=4, description="distractors"),
        "max_value": w.IntSlider(value=cfg.max_value, min=6, max=100, description="answer space M"),
        "teacher_styles": w.IntSlider(value=cfg.teacher_styles, min=1, max=cfg.teacher_styles,
                                      description="teacher styles"),
        "seed": w.IntSlider(value=0, min=0, max=1000, description="seed"),
    }
    out = w.Output()

    def show(_=None):
        out.clear_output()
        with out:
            try:
                knobs = {k: c.value for k, c in controls.items() if k != "seed"}
                world = ArithWorld(dataclasses.replace(cfg, **knobs))
                problem = world.make_problems("train", 1, seed=controls["seed"].value)[0]
            except (ValueError, RuntimeError) as e:
                print(f"invalid setting: {e}")
                return
            display(HTML(labeled_solution_html(world, problem, problem.solution, "teacher (D_syn)")))
            display(HTML(labeled_solution_html(world, problem, flip_first_operation(problem.solution),
                                               "the same with its first operation flipped")))

    for c in controls.values():
        c.observe(show, names="value")
    show()
    return w.VBox([w.HBox(list(controls.values())[:3]), w.HBox(list(controls.values())[3:]), out])


def flip_first_operation(solution: str) -> str:
    """The solution with the first '+' and '-' swapped (a critical-step error for the demos)."""
    lines = solution.split("\n")
    for i, line in enumerate(lines):
        for a, b in ((" + ", " - "), (" - ", " + ")):
            if a in line:
                lines[i] = line.replace(a, b, 1)
                return "\n".join(lines)
    return solution
