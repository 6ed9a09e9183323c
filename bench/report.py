"""Render the results of bench/run_bench.py as docs/BENCHMARKS.md."""

OVERHEAD_GOAL = 1.02  # the trainer may take at most 2% longer per step than the plain C++ loop

VARIANT_NAMES = {
    "trainer_logging_on": "`trainer fit`, logging and checkpointing on",
    "trainer_logging_off": "`trainer fit`, logging and checkpointing off",
    "plain_cpp": "plain LibTorch loop (inputs normalised once)",
    "plain_cpp_per_batch": "plain LibTorch loop (each batch normalised, as the trainer's loader does when it augments)",
    "python": "plain PyTorch loop (Python)",
}


def spread(stats, scale=1.0, digits=2):
    """Format a summary as "median (min–max)"."""
    if not stats:
        return "n/a"
    return (f"{stats['median'] * scale:.{digits}f} "
            f"({stats['min'] * scale:.{digits}f}–{stats['max'] * scale:.{digits}f})")


def rate(stats):
    if not stats:
        return "n/a"
    return f"{stats['median']:,.0f} ({stats['min']:,.0f}–{stats['max']:,.0f})"


def ratio(stats):
    if not stats:
        return "n/a"
    return f"{stats['median']:.3f} ({stats['min']:.3f}–{stats['max']:.3f})"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def machine_section(results):
    machine = results["machine"]
    before = machine["load_average_before"]
    after = machine.get("load_average_after", [0, 0, 0])
    idle = before[0] < 0.5
    rows = [
        ("date", results["date"]),
        ("commit", results.get("commit", "unknown")),
        ("CPU", f"{machine['cpu_model']}, {machine['nproc']} logical cores"),
        ("memory", f"{machine['memory_gib']} GiB"),
        ("OS, kernel", f"{machine['os']}, Linux {machine['kernel']}"),
        ("LibTorch", f"libtorch-dev {machine['libtorch']} (CPU build)"),
        ("Python torch", f"{machine['python_torch']} (python3-torch, the same LibTorch build)"),
        ("BLAS (libblas.so.3)", f"`{machine['blas']}`"),
        ("compiler", machine["compiler"]),
        ("threads per process", f"{machine['threads']}, OMP_WAIT_POLICY={machine['omp_wait_policy']}"),
        ("load average (1, 5, 15 min)",
         f"before {before[0]:.2f}, {before[1]:.2f}, {before[2]:.2f}; after {after[0]:.2f}, {after[1]:.2f}, {after[2]:.2f}"),
        ("machine idle at start", "yes" if idle else "no: other work was running, so absolute numbers are low "
                                                   "and noisy; the ratios measured within one repeat are the "
                                                   "numbers to read"),
        ("suite run time", f"{results['duration_s']} s"),
    ]
    return "## Machine\n\n" + table(["", ""], rows)


def overhead_section(results):
    section = results["sections"].get("overhead")
    if not section:
        return ""
    settings = results["settings"]
    out = ["## Trainer overhead\n"]
    out.append(
        f"The same network, data split, epoch order, optimizer (Adam, lr 1e-3), batch size "
        f"({settings['batch_size']}) and thread count ({settings['threads']}), for a fixed number of optimizer "
        f"steps. All programs start from the same weights: the first step's loss is identical (see Startup). "
        f"Each row is the median of {settings['repeats']} interleaved repeats, with min and max in brackets.\n\n"
        "- **per step**: (wall time of the run − wall time of the same command with 0 steps) / steps. It "
        "includes everything a run does per step (checkpoints, metric files, console lines) and excludes "
        "start-up and data loading.\n"
        "- **loop only**: the time the program measures around its own training loop, divided by steps "
        "(for `trainer fit`, read from each epoch's `train_samples/s` log line). It leaves out the "
        "end-of-epoch checkpoint.\n"
        "- **ratio**: the variant's time over the plain C++ loop's time in the same repeat, then the median "
        f"over repeats. The goal is a ratio under {OVERHEAD_GOAL:.2f} for both trainer rows.\n")
    if not section["logger_false_available"]:
        out.append(f"\n`trainer.logger: false` is not available in this build ({section['logger_false_reason']}). "
                   "The logging-off rows use `--trainer.log_every_n_steps=1000000000` instead, which removes "
                   "step logging but keeps the one metrics.csv row and console line per epoch.\n")
    for model, data in section["models"].items():
        out.append(f"\n### {model.upper()}, {data['steps']} steps\n\n")
        rows = []
        for name, row in data["variants"].items():
            ratios = data["ratios"].get(f"{name}/plain_cpp", {})
            rows.append((VARIANT_NAMES.get(name, name), spread(row["per_step_ms"], digits=3),
                         rate(row["samples_per_second"]), ratio(ratios.get("per_step")) if ratios else "1",
                         spread(row["loop_per_step_ms"], digits=3), ratio(ratios.get("loop_per_step")) if ratios else "1"))
        out.append(table(["program", "per step, ms", "samples/s", "ratio", "loop only, ms/step", "loop-only ratio"], rows))
        verdicts = []
        for name in ("trainer_logging_on", "trainer_logging_off"):
            stats = data["ratios"].get(f"{name}/plain_cpp", {}).get("per_step")
            if stats:
                percent = (stats["median"] - 1) * 100
                # A verdict needs every repeat on the same side of the goal; otherwise the noise decides.
                if stats["max"] < OVERHEAD_GOAL:
                    met = "It meets the 2% goal in every repeat."
                elif stats["min"] > OVERHEAD_GOAL:
                    met = "It misses the 2% goal in every repeat."
                else:
                    met = (f"Not resolved: the repeats range from {stats['min']:.3f} to {stats['max']:.3f}, on both "
                           "sides of the goal. Rerun on an idle machine or with more `--repeats`.")
                verdicts.append(f"- {VARIANT_NAMES[name]}: {percent:+.1f}% per step (median). {met}")
        if verdicts:
            out.append("\n" + "\n".join(verdicts) + "\n")
    return "".join(out)


def python_section(results):
    section = results["sections"].get("overhead")
    if not section:
        return ""
    out = ["## Against Python\n\n"]
    if section.get("python_missing"):
        out.append(f"Not measured: {section['python_missing']}.\n")
        return "".join(out)
    out.append("The same loop in eager PyTorch (`bench/plain_loop.py`), run in the same repeats as the "
               "overhead table above. Samples/s come from the per-step time, so Python's start-up "
               "(importing torch) is excluded.\n\n")
    rows = []
    for model, data in section["models"].items():
        variants = data["variants"]
        python = variants.get("python", {}).get("samples_per_second")
        if not python:
            continue
        plain = variants["plain_cpp"]["samples_per_second"]
        trainer = variants["trainer_logging_on"]["samples_per_second"]
        python_ratio = data["ratios"].get("python/plain_cpp", {}).get("per_step")
        trainer_ratio = data["ratios"].get("trainer_logging_on/plain_cpp", {}).get("per_step")
        trainer_vs_python = (python_ratio["median"] / trainer_ratio["median"]
                             if python_ratio and trainer_ratio else None)
        rows.append((model.upper(), rate(plain), rate(trainer), rate(python),
                     ratio(python_ratio), f"{trainer_vs_python:.2f}" if trainer_vs_python else "n/a"))
    out.append(table(["model", "plain C++, samples/s", "`trainer fit`, samples/s", "Python, samples/s",
                      "C++ speed-up (Python time / C++ time)", "`trainer fit` speed-up over Python"], rows))
    return "".join(out)


def checkpoint_section(results):
    section = results["sections"].get("checkpoint")
    if not section:
        return ""
    out = ["## Checkpoint cost\n\n",
           f"`trainer fit` writes `checkpoints/last.ckpt` at the end of every epoch. Runs of {section['epochs']} "
           "epochs of one batch each, with checkpointing on and off, interleaved: the wall-time difference per "
           "epoch is the cost of one checkpoint. The last column relates it to a full Fashion-MNIST epoch "
           "(430 steps) at the per-step time of the trainer with logging off, from the overhead table.\n\n"]
    overhead = results["sections"].get("overhead", {}).get("models", {})
    rows = []
    for model, data in section["models"].items():
        stats = data["ms_per_checkpoint"]
        share = "n/a"
        step = overhead.get(model, {}).get("variants", {}).get("trainer_logging_off", {}).get("per_step_ms")
        if stats and step:
            share = f"{stats['median'] / (430 * step['median']) * 100:.2f}%"
        size = f"{data['file_bytes'] / 1e6:.2f}" if data["file_bytes"] else "n/a"
        rows.append((model.upper(), spread(stats, digits=1), size, share))
    out.append(table(["model", "ms per checkpoint", "file size, MB", "share of one epoch"], rows))
    return "".join(out)


def loader_section(results):
    section = results["sections"].get("loader")
    if not section:
        return ""
    batch = results["settings"]["batch_size"]
    out = ["## Data loader\n\n",
           "Fashion-MNIST training split (55,000 samples), batch 128, shuffled, read in a tight loop with no "
           "model (`bench/loader_bench.cpp`). Median of the repeats, min and max in brackets.\n\n"]
    names = {
        "loader": "DataConnector train loader (`set_epoch`, `batch(i)`)",
        "index_float": "plain indexing of inputs normalised once (`randperm` + `index_select`)",
        "index_bytes": "plain indexing of stored bytes, each batch normalised",
    }
    rows = []
    for label, run in section["runs"].items():
        if not run["available"]:
            rows.append((f"loader, {label}", f"not available in this build: {run['reason']}", ""))
            continue
        for variant, stats in run["variants"].items():
            if label != "num_workers=0 (default)" and variant != "loader":
                continue
            name = names.get(variant, variant)
            if variant == "loader":
                name += f", {label}"
            rows.append((name, rate(stats), f"{batch / stats['median'] * 1e6:.1f}"))
    out.append(table(["loader", "samples/s", "µs per batch (median)"], rows))
    return "".join(out)


def startup_section(results):
    section = results["sections"].get("startup")
    if not section:
        return ""
    out = ["## Startup\n\n",
           "Time from starting the process to the end of the first training step (when its `step=1` line "
           "appears; the CNN, 1 step), and the whole run's wall time. `trainer --version` only loads the "
           "binary and LibTorch's shared libraries.\n\n"]
    rows = []
    for name, row in section["variants"].items():
        rows.append((name, spread(row["first_step_s"]) if row["first_step_s"] else "—", spread(row["wall_s"])))
    overhead = results["sections"].get("overhead")
    if overhead and "cnn" in overhead["models"]:
        empty = overhead["models"]["cnn"]["variants"]["trainer_logging_on"]["wall_zero_steps_s"]
        rows.append(("trainer fit, 0 steps (set-up and exit only)", "—", spread(empty)))
    if not section["fast_dev_run_available"]:
        rows.append(("trainer fit --trainer.fast_dev_run=true",
                     f"not available in this build: {section['fast_dev_run_reason']}", ""))
    out.append(table(["run", "to end of first step, s", "whole run, s"], rows))
    losses = {name: row["first_step_loss"] for name, row in section["variants"].items() if row["first_step_loss"]}
    if losses:
        values = sorted(set(f"{value:.6f}" for value in losses.values()))
        verdict = "identical" if len(values) == 1 else "DIFFERENT"
        listed = ", ".join(f"{name}: {value:.9g}" for name, value in losses.items())
        out.append(f"\nFirst-step loss on the CNN, {verdict} across programs ({listed}), so they start "
                   "from the same weights and the same first batch.\n")
    return "".join(out)


def memory_section(results):
    section = results["sections"].get("overhead")
    if not section:
        return ""
    out = ["## Peak memory\n\n",
           "Maximum resident set size of the whole process (`/usr/bin/time -v`) for the runs of the overhead "
           "table, median over repeats.\n\n"]
    rows = []
    for model, data in section["models"].items():
        for name, row in data["variants"].items():
            stats = row["max_rss_mb"]
            rows.append((model.upper(), VARIANT_NAMES.get(name, name), f"{stats['median']:.0f}" if stats else "n/a"))
    out.append(table(["model", "program", "max RSS, MiB"], rows))
    return "".join(out)


def ddp_section(results):
    section = results["sections"].get("ddp")
    if section is None:
        return ""
    out = ["## Scaling: 1 vs 2 DDP processes on CPU\n\n"]
    if not section["available"]:
        out.append(f"Not available in this build: {section['reason']}\n")
        return "".join(out)
    out.append(f"The CNN for {section['steps']} steps, checkpointing off. Samples/s counts the samples of every "
               "process (batch 128 per process) over the per-step time. With 2 cores, 2 processes of 1 thread "
               "compete with 1 process of 2 threads for the same cores, so do not expect a 2x gain.\n\n")
    rows = [(name, rate(row["samples_per_second"])) for name, row in section["variants"].items()]
    out.append(table(["run", "samples/s"], rows))
    return "".join(out)


def commands_section(results):
    lines = ["## Commands\n\n",
             f"The whole suite: `{results.get('invocation', 'scripts/bench.sh')}` (environment "
             "`OMP_WAIT_POLICY=PASSIVE`). Each row above ran these commands, with the step count replaced "
             "by 0 for the empty run:\n\n```\n"]
    for entry in results["commands"]:
        lines.append(f"# {entry['what']}\n{entry['command']}\n")
    lines.append("```\n")
    return "".join(lines)


def render(results, profile_notes):
    parts = [
        "# Benchmarks\n\n",
        "Generated by `scripts/bench.sh`; edit `bench/report.py` or `bench/profile_notes.md` instead of this "
        "file. The machine is shared and its load varies, so every comparison is a ratio of runs interleaved "
        "in the same repeat. The raw numbers are in `bench/results.json`.\n\n",
        machine_section(results), "\n",
        overhead_section(results), "\n",
        python_section(results), "\n",
        checkpoint_section(results), "\n",
        loader_section(results), "\n",
        startup_section(results), "\n",
        memory_section(results), "\n",
        ddp_section(results), "\n",
    ]
    if profile_notes:
        parts += [profile_notes.strip(), "\n\n"]
    parts.append(commands_section(results))
    return "".join(parts)
