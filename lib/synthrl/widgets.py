"""ipywidgets panels for the notebooks. Each panel calls the same library functions the studies
use; the HTML helpers are plain functions so a notebook can show them without a widget."""
from __future__ import annotations

import dataclasses
import functools
import html
import threading

from synthrl.credit import FIRST_PIT_DEFINITIONS
from synthrl.tasks.arith import (NAMES, ArithConfig, ArithWorld, first_wrong_step, flip_first_operation,
                                 names_needed)
from synthrl.tasks.base import Problem

# a control's whole label, never cut to "answer sp…" (ipywidgets' default width truncates it)
WIDE = {"description_width": "initial"}

# JupyterLab (4.6) sends widget messages over a kernel subshell, so ipykernel may call a control's handler on a
# thread of its own, beside the main one; matplotlib and the run cache are not thread-safe. Our handlers
# run one at a time, whichever thread calls them.
_HANDLER_LOCK = threading.RLock()


def _one_at_a_time(handler):
    @functools.wraps(handler)
    def serial(*args, **kwargs):
        with _HANDLER_LOCK:
            return handler(*args, **kwargs)
    return serial


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
        "min_steps": w.IntSlider(value=cfg.min_steps, min=1, max=8, description="min steps", style=WIDE),
        "max_steps": w.IntSlider(value=cfg.max_steps, min=1, max=8, description="max steps", style=WIDE),
        "n_distractors": w.IntSlider(value=cfg.n_distractors, min=0, max=4, description="distractors", style=WIDE),
        "max_value": w.IntSlider(value=cfg.max_value, min=6, max=100, description="answer space M", style=WIDE),
        "n_names": w.IntSlider(value=cfg.n_names, min=3, max=len(NAMES), description="names", style=WIDE),
        "teacher_styles": w.IntSlider(value=cfg.teacher_styles, min=1, max=cfg.teacher_styles,
                                      description="teacher styles", style=WIDE),
        "seed": w.IntSlider(value=0, min=0, max=1000, description="seed", style=WIDE),
    }
    out = w.Output()

    def show(_=None):
        needed = names_needed(controls["max_steps"].value, controls["n_distractors"].value)  # more steps, more names
        if controls["n_names"].value < needed:
            controls["n_names"].value = min(needed, len(NAMES))  # shows again through its observer
            return
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
        c.observe(_one_at_a_time(show), names="value")
    show()
    return w.VBox([w.HBox(list(controls.values())[:4]), w.HBox(list(controls.values())[4:]), out])


def credit_trace_html(world: ArithWorld, problem: Problem, credit) -> str:
    """A negative trace with each step coloured by the Q of the prefix it ends (red 0 .. green 1),
    its advantage with a standard error, its exact label, and the estimated first pits marked."""
    labels = world.label_steps(problem, "\n".join(credit.steps))
    exact_pit = first_wrong_step(labels)
    q, adv, se = credit.q, credit.advantages, credit.advantage_se
    names = {"min": "lowest Q", "no_success": "no success", "max_drop": "largest drop"}
    pits = {d: credit.first_pit(d) for d in FIRST_PIT_DEFINITIONS}
    rows = [f"<div style='font-family:monospace'>{html.escape(problem.question)}</div>",
            f"<div style='font-family:monospace'>Q_0 (bare problem) = {q[0]:.2f}</div>"]
    for i, step in enumerate(credit.steps):
        red, green = int(230 * (1 - q[i + 1]) + 25), int(200 * q[i + 1] + 25)
        marks = [f"estimated first pit ({names[d]})" for d, at in pits.items() if at == i]
        marks += ["exact first wrong step"] if exact_pit == i else []
        rows.append(
            f"<div style='font-family:monospace;background:rgba({red},{green},60,0.25);padding:2px 6px'>"
            f"{html.escape(step)} &nbsp; <b>Q={q[i + 1]:.2f}</b> A={adv[i]:+.2f}&plusmn;{se[i]:.2f} "
            f"<i>[{labels[i] if i < len(labels) else '?'}]</i> {' &larr; ' + ', '.join(marks) if marks else ''}</div>")
    return "".join(rows) + f"<div>answer {html.escape(problem.answer)}; rollouts per prefix: {credit.rollouts}</div>"


def trace_inspector(world: ArithWorld, problems: list[Problem], credits: dict):
    """Pick a negative trace and a rollout policy; see its steps coloured by Q."""
    import ipywidgets as w
    from IPython.display import HTML, display

    pick = w.Dropdown(options=[(f"{i}: {p.question[:60]}...", i) for i, p in enumerate(problems)],
                      description="trace", style=WIDE, layout=w.Layout(width="90%"))
    policy = w.ToggleButtons(options=list(credits), description="rollouts", style=WIDE)
    out = w.Output()

    def show(_=None):
        out.clear_output()
        with out:
            display(HTML(credit_trace_html(world, problems[pick.value], credits[policy.value][pick.value])))

    pick.observe(_one_at_a_time(show), names="value")
    policy.observe(_one_at_a_time(show), names="value")
    show()
    return w.VBox([pick, policy, out])


def scaling_explorer(preset, results=None):
    """Positive-data scaling, interactively. 'run' re-runs a small experiment with the chosen
    sizes, positives per problem, temperature, seeds and setting (cached cells are free; a
    progress bar counts cells); 're-plot' redraws the loaded results for the chosen setting."""
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    from synthrl.studies import positive_scaling

    cfg = preset.scaling
    ladder = sorted({*cfg.sizes, *(max(1, s // 2) for s in cfg.sizes)})
    controls = {
        "sizes": w.SelectMultiple(options=ladder, value=tuple(sorted(cfg.sizes)[:3]), description="|D_syn|",
                                  style=WIDE, rows=5),
        "positives_per_problem": w.IntSlider(  # D+ can keep at most the samples drawn per problem
            value=min(preset.sampling.positives_per_problem, cfg.samples_per_problem), min=1,
            max=cfg.samples_per_problem,
            description="positives/problem", style=WIDE),
        "temperature": w.FloatSlider(value=preset.sampling.temperature, min=0.3, max=1.5, step=0.1,
                                     description="temperature", style=WIDE),
        "n_seeds": w.IntSlider(value=1, min=1, max=max(3, len(cfg.seeds)), description="seeds", style=WIDE),
        "setting": w.Dropdown(options=[s.name for s in cfg.settings], description="setting", style=WIDE),
    }
    run_button, replot_button = w.Button(description="run", button_style="primary"), w.Button(description="re-plot")
    out = w.Output()
    state = {"results": results}

    def show(df):
        figure = positive_scaling.fig2(df, n_boot=300)
        display(figure)
        plt.close(figure)
        display(positive_scaling.claims(df, n_boot=300))

    def run(_=None):
        out.clear_output()
        with out:
            if len(controls["sizes"].value) < 2:
                print("choose two or more sizes (ctrl/shift-click)")
                return
            df = positive_scaling.run(preset, progress=True, sizes=controls["sizes"].value,
                                      seeds=range(controls["n_seeds"].value), settings=[controls["setting"].value],
                                      positives_per_problem=controls["positives_per_problem"].value,
                                      temperature=controls["temperature"].value)
            state["results"] = df
            show(df)

    def replot(_=None):
        out.clear_output()
        with out:
            df = state["results"]
            if df is None:
                print("no results loaded yet: press run")
                return
            show(df[df.setting == controls["setting"].value])

    run_button.on_click(_one_at_a_time(run))
    replot_button.on_click(_one_at_a_time(replot))
    panel = w.VBox([w.HBox([controls["sizes"], w.VBox([controls[k] for k in list(controls)[1:]])]),
                    w.HBox([run_button, replot_button]), out])
    panel.explorer_state = state  # the latest results, for a caller (or a test) to read
    return panel


def _setting_dropdown(preset):
    import ipywidgets as w

    return w.Dropdown(options=[s.name for s in preset.scaling.settings], description="setting", style=WIDE)


def _run_controls():
    """An explorer's 'run' button, the output it writes to, and its state (the latest results)."""
    import ipywidgets as w

    return w.Button(description="run", button_style="primary"), w.Output(), {"results": None}


def negative_explorer(preset):
    """Per-step DPO in one cell, interactively: choose |D_syn|, beta, the cut (a first-pit definition
    or the oracle's exact first wrong step), rollouts per prefix and a setting, then 'run' (seed 0;
    cached stages are free, progress bars count cells and rollouts). Shows each method's test error
    beside SFT, RFT and pi_base, the pairs, rollouts and sampled tokens it cost, and the preference
    trainer's log."""
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    from synthrl import figures
    from synthrl.studies import negative_scaling

    cfg = preset.negative
    controls = {
        "size": w.Dropdown(options=sorted(preset.scaling.sizes), value=min(cfg.sizes or preset.scaling.sizes),
                           description="|D_syn|", style=WIDE),
        "beta": w.FloatLogSlider(value=cfg.dpo.beta, base=10, min=-2, max=0, step=0.25, description="DPO beta",
                                 style=WIDE),
        "cut": w.Dropdown(options=[*FIRST_PIT_DEFINITIONS, "oracle"], value=cfg.first_pits[0],
                          description="cut after", style=WIDE),
        "n_rollouts": w.IntSlider(value=cfg.credit.n_rollouts, min=1, max=32, description="rollouts per prefix",
                                  style=WIDE),
        "setting": _setting_dropdown(preset),
    }
    run_button, out, state = _run_controls()

    def run(_=None):
        out.clear_output()
        with out:
            cut = controls["cut"].value
            pits, methods = ((cut,), ()) if cut != "oracle" else ((cfg.first_pits[0],), ("oracle per-step DPO",))
            df = negative_scaling.run(preset, progress=True, settings=[controls["setting"].value],
                                      sizes=(controls["size"].value,), seeds=(0,), first_pits=pits, methods=methods,
                                      beta=controls["beta"].value, n_rollouts=controls["n_rollouts"].value)
            state["results"] = df
            n = controls["size"].value
            shown = ["test_error", "rollouts", "sampled_tokens", "pairs"]
            cell = df[(df.n_problems.isin([0, n])) & df.metric.isin(shown)]
            table = cell.pivot_table(index="method", columns="metric", values="value", aggfunc="first")
            counts = [c for c in shown[1:] if c in table]
            display(table.style.format(precision=3, na_rep="not measured")
                    .format("{:,.0f}", subset=counts, na_rep="not measured"))
            log = negative_scaling.preference_log(df)
            if not log.empty:
                figure = figures.preference_diagnostics(log, f"preference training at |D_syn| = {n}")
                display(figure)
                plt.close(figure)

    run_button.on_click(_one_at_a_time(run))
    panel = w.VBox([w.HBox([w.VBox(list(controls.values())[:3]), w.VBox(list(controls.values())[3:])]),
                    run_button, out])
    panel.explorer_state = state
    return panel


def star_explorer(preset, results=None):
    """The star-graph study, interactively: choose d, l, N and the SFT checkpoint per-step DPO
    starts from; 'run' runs that experiment at the preset's sizes (cached runs are free) and
    draws Fig. 8b (or 8c for a start at or past the preset's over-trained checkpoint); 're-plot'
    redraws the loaded results."""
    import dataclasses

    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    from synthrl import figures
    from synthrl.studies import star_graph
    from synthrl.tasks.stargraph import StarGraphConfig

    cfg = preset.star
    g = cfg.graph
    controls = {
        "d": w.IntSlider(value=g.d, min=2, max=5, description="d (arms)", style=WIDE),
        "l": w.IntSlider(value=g.l, min=3, max=8, description="l (path)", style=WIDE),
        "N": w.IntSlider(value=g.n_nodes, min=10, max=100, step=5, description="N (labels)", style=WIDE),
        "start": w.Dropdown(options=[s for s in cfg.checkpoints if s > 0],
                            value=cfg.dpo_from[0] if cfg.dpo_from else cfg.checkpoints[-1], description="DPO from",
                            style=WIDE),
    }
    run_button, replot_button = w.Button(description="run", button_style="primary"), w.Button(description="re-plot")
    out = w.Output()
    state = {"results": results}

    def show(df):
        over = (df.start_kind == "over-trained").any() and not (df.start_kind == "under-trained").any()
        figure = (figures.star_fig8c if over else figures.star_fig8b)(df)
        display(figure)
        plt.close(figure)
        display(star_graph.claims(df))

    def run(_=None):
        out.clear_output()
        with out:
            try:
                graph = StarGraphConfig(controls["d"].value, controls["l"].value, controls["N"].value)
            except ValueError as err:
                print(err)
                return
            start = controls["start"].value
            over = cfg.dpo_from_over is not None and start >= cfg.dpo_from_over
            starts = {"dpo_from": (), "dpo_from_over": start} if over else {"dpo_from": (start,), "dpo_from_over": None}
            model = dataclasses.replace(cfg.model, max_positions=max(cfg.model.max_positions, 3 * graph.d * graph.l + 8))
            df = star_graph.run(preset, progress=True, graph=graph, model=model, **starts)
            state["results"] = df
            show(df)

    def replot(_=None):
        out.clear_output()
        with out:
            if state["results"] is None:
                print("no results loaded yet: press run")
                return
            show(state["results"])

    run_button.on_click(_one_at_a_time(run))
    replot_button.on_click(_one_at_a_time(replot))
    panel = w.VBox([w.HBox([w.VBox([controls["d"], controls["l"]]), w.VBox([controls["N"], controls["start"]])]),
                    w.HBox([run_button, replot_button]), out])
    panel.explorer_state = state
    return panel


def spurious_explorer(preset):
    """RFT's spurious positives in one cell, interactively: choose the positives per problem, the
    world's answer space M (another M pretrains another pi_base: its vocabulary holds the amounts),
    pi_sft's sampling temperature and a setting, then 'run' (seed 0; cached stages are free, a progress
    bar counts cells). Shows Fig. 2c, the spurious fractions and Fig. 4's arms."""
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    from synthrl.studies import rft_spurious

    cfg = preset.spurious
    ladder = sorted({1, 2, 4, 8, 16, 32, *cfg.counts})
    controls = {
        "counts": w.SelectMultiple(options=[k for k in ladder if k <= cfg.samples], value=tuple(cfg.counts),
                                   description="positives/problem", style=WIDE, rows=5),
        "max_value": w.IntSlider(value=preset.world.max_value, min=6, max=100, description="answer space M",
                                 style=WIDE),
        "temperature": w.FloatSlider(value=preset.sampling.temperature, min=0.3, max=1.5, step=0.1,
                                     description="temperature", style=WIDE),
        "setting": _setting_dropdown(preset),
    }
    run_button, out, state = _run_controls()

    def run(_=None):
        out.clear_output()
        with out:
            counts = sorted(controls["counts"].value)
            if len(counts) < 2:
                print("choose two or more counts (ctrl/shift-click)")
                return
            m = controls["max_value"].value
            df = rft_spurious.run(preset, progress=True, settings=[controls["setting"].value], seeds=(0,),
                                  counts=counts, reference_count=counts[-2], temperature=controls["temperature"].value,
                                  max_value=None if m == preset.world.max_value else m)
            state["results"] = df
            lucky = df[(df.method == "pi_sft") & df.metric.isin(["lucky_rate", "chance_rate", "sample_accuracy"])]
            display(lucky.pivot_table(index="setting", columns="metric", values="value").round(3))
            for name, figure in rft_spurious.figures(df).items():
                display(figure)
                plt.close(figure)
            display(rft_spurious.count_means(df).round(3))

    run_button.on_click(_one_at_a_time(run))
    panel = w.VBox([w.HBox([controls["counts"], w.VBox([controls[k] for k in list(controls)[1:]])]), run_button, out])
    panel.explorer_state = state
    return panel


def spurious_inspector(positives: list[tuple], world: ArithWorld):
    """pi_sft's positives (problem, solution, labels; `rft_spurious.labelled_positives`) one at a time,
    every step coloured by its exact label: all of them, or only those the verifier passed although a
    step is wrong, or irrelevant."""
    import ipywidgets as w
    from IPython.display import HTML, display

    kinds = {"all": lambda lab: True, "a wrong step": lambda lab: "wrong" in lab,
             "an irrelevant step": lambda lab: "irrelevant" in lab}
    show_kind = w.Dropdown(options=list(kinds), value="a wrong step", description="positives with", style=WIDE)
    index = w.IntSlider(value=0, min=0, max=0, description="positive", style=WIDE)
    out = w.Output()

    def chosen():
        return [p for p in positives if kinds[show_kind.value](p[2])]

    def show(_=None):
        found = chosen()
        index.max = max(len(found) - 1, 0)
        out.clear_output()
        with out:
            if not found:
                print(f"none of the {len(positives)} positives has {show_kind.value}")
                return
            problem, text, _ = found[min(index.value, len(found) - 1)]
            display(HTML(labeled_solution_html(world, problem, text, f"{len(found)} of {len(positives)} positives "
                                                                     f"have {show_kind.value}")))

    show_kind.observe(_one_at_a_time(show), names="value")
    index.observe(_one_at_a_time(show), names="value")
    show()
    return w.VBox([w.HBox([show_kind, index]), out])
