"""Run the benchmark suite and write docs/BENCHMARKS.md and bench/results.json.

scripts/bench.sh builds the programs and calls this script; run that instead.
Every comparison runs its variants interleaved (a, b, c, a, b, c, ...) so that drift
in the machine's load hits all of them alike, and reports the median over repeats
with the min and max. Whole processes run under `/usr/bin/time -v` for peak RSS.
Features that this build lacks (fast_dev_run, logger: false, DDP, loader workers)
are probed first, and their rows read "not available in this build: <reason>".
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BATCH_SIZE = 128  # the batch size of bench/configs/fashion_mnist_*.yaml, and of the plain loops
SECTIONS = ["overhead", "python", "checkpoint", "loader", "startup", "memory", "ddp"]


# ---------------------------------------------------------------- running processes

class Run:
    """One finished process: wall time, exit code, output and `/usr/bin/time -v` fields."""

    def __init__(self, command, returncode, wall, output, marker_time, max_rss_kb):
        self.command = command
        self.returncode = returncode
        self.wall = wall
        self.output = output
        self.marker_time = marker_time  # seconds from start until the marker line, or None
        self.max_rss_kb = max_rss_kb

    def check(self):
        if self.returncode != 0:
            tail = "\n".join(self.output.splitlines()[-5:])
            raise RuntimeError(f"command failed with exit code {self.returncode}: {shell_join(self.command)}\n{tail}")
        return self


def shell_join(command):
    return " ".join(arg if re.fullmatch(r"[\w@%+=:,./<>-]+", arg) else repr(arg) for arg in command)


def short_reason(text):
    """Return the first line of an error without the list of valid keys that follows it."""
    return text.strip().splitlines()[0].split("; valid keys")[0] if text.strip() else "no output"


def run_process(command, marker=None, env=None):
    """Run `command` under /usr/bin/time -v; note when a line matching `marker` appears."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as time_file:
        start = time.perf_counter()
        process = subprocess.Popen(["/usr/bin/time", "-v", "-o", time_file.name] + command,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        marker_time = None
        lines = []
        for line in process.stdout:
            if marker_time is None and marker is not None and re.search(marker, line):
                marker_time = time.perf_counter() - start
            lines.append(line)
        returncode = process.wait()
        wall = time.perf_counter() - start
        rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_file.read())
    return Run(command, returncode, wall, "".join(lines), marker_time, int(rss.group(1)) if rss else None)


def summary(values):
    """Return the median, min, max and count of `values`, ignoring None."""
    values = [value for value in values if value is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def parse_fields(text):
    """Return the key=value numbers of the last line that has `samples_per_second=`."""
    lines = [line for line in text.splitlines() if "samples_per_second=" in line]
    if not lines:
        return {}
    return {key: float(value) for key, value in re.findall(r"(\w+)=([-\d.eE+]+)", lines[-1])}


def trainer_loop_seconds(text):
    """Return the training-loop seconds of a `trainer fit` log, summed over its epochs.

    Each epoch line gives the loop's samples/s; the samples follow from the steps taken
    (a full epoch has `train_samples`). Returns None when the log format is not found.
    """
    header = re.search(r"train_samples=(\d+) .*batches_per_epoch=(\d+)", text)
    epochs = re.findall(r"epoch=\d+ step=(\d+) time=[\d.]+s train_samples/s=(\d+)", text)
    if not header or not epochs:
        return None
    train_samples, batches_per_epoch = int(header.group(1)), int(header.group(2))
    seconds, previous_step = 0.0, 0
    for step, rate in epochs:
        steps = int(step) - previous_step
        previous_step = int(step)
        samples = train_samples if steps == batches_per_epoch else steps * BATCH_SIZE
        seconds += samples / max(float(rate), 1e-9)
    return seconds


# ---------------------------------------------------------------- the suite

class Suite:
    def __init__(self, args):
        self.args = args
        self.root = args.repo
        self.trainer = os.path.join(args.build_dir, "app", "trainer")
        self.plain_loop = os.path.join(args.build_dir, "bench", "plain_loop")
        self.loader_bench = os.path.join(args.build_dir, "bench", "loader_bench")
        self.work = tempfile.mkdtemp(prefix="trainer-bench-")
        self.threads = args.threads
        self.results = {"sections": {}}
        self.commands = []  # (what, command) pairs shown in the report

    def config(self, model):
        # bench/configs fixes the architecture that the plain loops build by hand.
        return os.path.join(self.root, "bench", "configs", f"fashion_mnist_{model}.yaml")

    def fit_command(self, model, steps, *extra):
        return [self.trainer, "fit", "--config", self.config(model), f"--trainer.max_steps={steps}",
                "--trainer.limit_val_batches=0", f"--trainer.num_threads={self.threads}",
                f"--trainer.default_root_dir={self.work}/runs"] + list(extra)

    def probe(self, *overrides, model="cnn"):
        """Return None when the trainer accepts `overrides`, else the reason it gives."""
        run = run_process([self.trainer, "fit", "--config", self.config(model), "--print_config"] + list(overrides))
        if run.returncode == 0:
            return None
        lines = [line.strip() for line in run.output.splitlines() if line.strip()]
        reason = next((line for line in lines if "unknown key" in line or "invalid" in line), lines[-1] if lines else "")
        return f"exit code {run.returncode}: {short_reason(reason)}"

    def display(self, command):
        """Return `command` as shell text, with paths relative to the repository and <tmp> for the run folder."""
        return shell_join(command).replace(self.work, "<tmp>").replace(self.root + "/", "")

    def log(self, message):
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)

    # ------------------------------------------------------------ machine

    def machine(self):
        def command_output(command):
            try:
                return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()
            except OSError:
                return ""

        cpu_model = ""
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as meminfo:
            memory_kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo.read()).group(1))
        blas = command_output(["update-alternatives", "--query", "libblas.so.3-x86_64-linux-gnu"])
        blas_value = re.search(r"^Value: (.*)$", blas, re.M)
        torch_python = command_output([self.args.torch_python, "-c", "import torch; print(torch.__version__)"])
        return {
            "nproc": os.cpu_count(),
            "cpu_model": cpu_model,
            "memory_gib": round(memory_kb / 1024 / 1024, 1),
            "kernel": platform.release(),
            "os": command_output(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
            "libtorch": command_output(["dpkg-query", "-W", "-f=${Version}", "libtorch-dev"]),
            "python_torch": torch_python or "not installed",
            "blas": blas_value.group(1) if blas_value else "unknown (update-alternatives found no libblas.so.3)",
            "compiler": command_output(["c++", "--version"]).splitlines()[0] if shutil.which("c++") else "",
            "load_average_before": os.getloadavg(),
            "threads": self.threads,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        }

    # ------------------------------------------------------------ overhead and Python

    def overhead(self):
        logger_off = self.probe("--trainer.logger=false")
        off_flags = ["--trainer.enable_checkpointing=false"]
        off_flags += ["--trainer.logger=false"] if logger_off is None else ["--trainer.log_every_n_steps=1000000000"]
        section = {"logger_false_available": logger_off is None, "logger_false_reason": logger_off, "models": {}}
        python_missing = self.python_missing()
        section["python_missing"] = python_missing

        for model, steps in (("mlp", self.args.mlp_steps), ("cnn", self.args.cnn_steps)):
            variants = {
                "trainer_logging_on": lambda n, m=model: self.fit_command(m, n),
                "trainer_logging_off": lambda n, m=model: self.fit_command(m, n, *off_flags),
                "plain_cpp": lambda n, m=model: [self.plain_loop, f"--model={m}", f"--steps={n}",
                                                 f"--threads={self.threads}"],
                "plain_cpp_per_batch": lambda n, m=model: [self.plain_loop, f"--model={m}", f"--steps={n}",
                                                           f"--threads={self.threads}", "--transform=per-batch"],
            }
            if python_missing is None:
                variants["python"] = lambda n, m=model: [self.args.torch_python,
                                                         os.path.join(self.root, "bench", "plain_loop.py"),
                                                         f"--model={m}", f"--steps={n}", f"--threads={self.threads}"]
            for name, build in variants.items():
                self.commands.append((f"{model} {name}", build(steps)))

            measured = {name: {"per_step": [], "loop_per_step": [], "rss": [], "wall": [], "wall0": []}
                        for name in variants}
            for repeat in range(self.args.repeats):
                self.log(f"overhead {model}: repeat {repeat + 1}/{self.args.repeats}")
                for name, build in variants.items():
                    full = run_process(build(steps)).check()
                    empty = run_process(build(0)).check()
                    record = measured[name]
                    record["per_step"].append((full.wall - empty.wall) / steps)
                    record["wall"].append(full.wall)
                    record["wall0"].append(empty.wall)
                    record["rss"].append(full.max_rss_kb / 1024 if full.max_rss_kb else None)
                    if name.startswith("trainer"):
                        loop = trainer_loop_seconds(full.output)
                    else:
                        loop = parse_fields(full.output).get("loop_seconds")
                    record["loop_per_step"].append(loop / steps if loop else None)

            def ratios(key, numerator, denominator):
                pairs = zip(measured[numerator][key], measured[denominator][key])
                return summary([a / b if a is not None and b else None for a, b in pairs])

            rows = {}
            for name, record in measured.items():
                rows[name] = {
                    "per_step_ms": summary([value * 1000 for value in record["per_step"]]),
                    "loop_per_step_ms": summary([value * 1000 if value else None for value in record["loop_per_step"]]),
                    "samples_per_second": summary([BATCH_SIZE / value for value in record["per_step"] if value > 0]),
                    "wall_s": summary(record["wall"]),
                    "wall_zero_steps_s": summary(record["wall0"]),
                    "max_rss_mb": summary(record["rss"]),
                }
            ratio_rows = {}
            for name in measured:
                if name == "plain_cpp":
                    continue
                ratio_rows[f"{name}/plain_cpp"] = {
                    "per_step": ratios("per_step", name, "plain_cpp"),
                    "loop_per_step": ratios("loop_per_step", name, "plain_cpp"),
                }
            section["models"][model] = {"steps": steps, "variants": rows, "ratios": ratio_rows}
        return section

    def python_missing(self):
        """Return None when the torch interpreter imports torch, else why not."""
        if not os.path.exists(self.args.torch_python):
            return f"{self.args.torch_python} does not exist"
        check = subprocess.run([self.args.torch_python, "-c", "import torch"], capture_output=True, text=True)
        if check.returncode != 0:
            return f"{self.args.torch_python} cannot import torch (install python3-torch)"
        return None

    # ------------------------------------------------------------ checkpoint

    def checkpoint(self):
        """Time one end-of-epoch checkpoint: epochs of one batch, with checkpointing on and off."""
        epochs = self.args.checkpoint_epochs
        section = {"epochs": epochs, "models": {}}
        for model in ("mlp", "cnn"):
            def command(enabled, m=model):
                return [self.trainer, "fit", "--config", self.config(m), f"--trainer.max_epochs={epochs}",
                        "--trainer.limit_train_batches=1", "--trainer.limit_val_batches=0",
                        f"--trainer.num_threads={self.threads}", f"--trainer.default_root_dir={self.work}/runs",
                        f"--trainer.enable_checkpointing={'true' if enabled else 'false'}"]
            self.commands.append((f"checkpoint {model} on", command(True)))
            self.commands.append((f"checkpoint {model} off", command(False)))
            costs = []
            for repeat in range(self.args.repeats):
                self.log(f"checkpoint {model}: repeat {repeat + 1}/{self.args.repeats}")
                on = run_process(command(True)).check()
                off = run_process(command(False)).check()
                costs.append((on.wall - off.wall) / epochs * 1000)
            files = [os.path.join(folder, name) for folder, _, names in os.walk(os.path.join(self.work, "runs"))
                     for name in names if name == "last.ckpt" and f"fashion_mnist_{model}" in folder]
            size = os.path.getsize(files[0]) if files else None
            section["models"][model] = {"ms_per_checkpoint": summary(costs), "file_bytes": size}
        return section

    # ------------------------------------------------------------ loader

    def loader(self):
        base = [self.loader_bench, f"--config={self.config('cnn')}", f"--threads={self.threads}",
                f"--epochs={self.args.loader_epochs}", f"--repeats={self.args.loader_repeats}"]
        section = {"runs": {}}
        for label, extra in (("num_workers=0 (default)", []), ("num_workers=2", ["--data.init_args.num_workers=2"])):
            command = base + extra
            self.commands.append((f"loader {label}", command))
            self.log(f"loader {label}")
            run = run_process(command)
            if run.returncode == 2 and extra:
                reason = next((line for line in run.output.splitlines() if "unknown key" in line), run.output)
                section["runs"][label] = {"available": False, "reason": f"exit code 2: {short_reason(reason)}"}
                continue
            run.check()
            variants = {}
            for line in run.output.splitlines():
                match = re.match(r"variant=(\w+) samples_per_second=(\S+) min=(\S+) max=(\S+)", line)
                if match:
                    variants[match.group(1)] = {"median": float(match.group(2)), "min": float(match.group(3)),
                                                "max": float(match.group(4))}
            section["runs"][label] = {"available": True, "variants": variants}
        return section

    # ------------------------------------------------------------ startup

    def startup(self):
        fast_dev_run = self.probe("--trainer.fast_dev_run=true")
        python_missing = self.python_missing()
        step_marker = r"\bstep=1\b"
        variants = {
            "trainer --version": ([self.trainer, "--version"], None),
            "trainer fit, 1 step": (self.fit_command("cnn", 1, "--trainer.log_every_n_steps=1"), step_marker),
            "plain C++ loop, 1 step": ([self.plain_loop, "--model=cnn", "--steps=1", f"--threads={self.threads}"],
                                       step_marker),
        }
        if python_missing is None:
            variants["Python loop, 1 step"] = ([self.args.torch_python, os.path.join(self.root, "bench", "plain_loop.py"),
                                                "--model=cnn", "--steps=1", f"--threads={self.threads}"], step_marker)
        if fast_dev_run is None:
            variants["trainer fit --trainer.fast_dev_run=true"] = (
                [self.trainer, "fit", "--config", self.config("cnn"), "--trainer.fast_dev_run=true",
                 f"--trainer.num_threads={self.threads}", f"--trainer.default_root_dir={self.work}/runs"], step_marker)
        for name, (command, _) in variants.items():
            self.commands.append((f"startup {name}", command))

        measured = {name: {"first_step": [], "wall": [], "loss": []} for name in variants}
        for repeat in range(self.args.startup_repeats):
            self.log(f"startup: repeat {repeat + 1}/{self.args.startup_repeats}")
            for name, (command, marker) in variants.items():
                run = run_process(command, marker).check()
                measured[name]["first_step"].append(run.marker_time)
                measured[name]["wall"].append(run.wall)
                loss = re.search(r"result train/loss=([\d.]+)|^step=1 loss=([\d.]+)", run.output, re.M)
                measured[name]["loss"].append(float(loss.group(1) or loss.group(2)) if loss else None)

        rows = {name: {"first_step_s": summary(record["first_step"]), "wall_s": summary(record["wall"]),
                       "first_step_loss": record["loss"][0]} for name, record in measured.items()}
        return {"fast_dev_run_available": fast_dev_run is None, "fast_dev_run_reason": fast_dev_run,
                "python_missing": python_missing, "variants": rows}

    # ------------------------------------------------------------ DDP

    def ddp(self):
        missing = self.probe("--trainer.strategy=ddp", "--trainer.devices=2", "--trainer.accelerator=cpu")
        if missing is not None:
            return {"available": False, "reason": missing}
        steps = self.args.ddp_steps

        def fit(threads, *extra):
            return [self.trainer, "fit", "--config", self.config("cnn"), f"--trainer.max_steps={{steps}}",
                    "--trainer.limit_val_batches=0", "--trainer.accelerator=cpu", f"--trainer.num_threads={threads}",
                    f"--trainer.default_root_dir={self.work}/runs", "--trainer.enable_checkpointing=false"] + list(extra)

        variants = {
            "1 process x 1 thread": (fit(1), 1),
            f"1 process x {self.threads} threads": (fit(self.threads), 1),
            "2 DDP processes x 1 thread": (fit(1, "--trainer.strategy=ddp", "--trainer.devices=2"), 2),
        }
        for name, (command, _) in variants.items():
            self.commands.append((f"ddp {name}", [arg.replace("{steps}", str(steps)) for arg in command]))
        measured = {name: [] for name in variants}
        for repeat in range(self.args.repeats):
            self.log(f"ddp: repeat {repeat + 1}/{self.args.repeats}")
            for name, (command, world) in variants.items():
                full = run_process([arg.replace("{steps}", str(steps)) for arg in command])
                empty = run_process([arg.replace("{steps}", "0") for arg in command])
                if full.returncode != 0 or empty.returncode != 0:
                    failed = full if full.returncode != 0 else empty
                    tail = failed.output.strip().splitlines()[-1:] or [""]
                    return {"available": False,
                            "reason": f"the DDP run failed with exit code {failed.returncode}: {short_reason(tail[0])}"}
                measured[name].append(steps * BATCH_SIZE * world / max(full.wall - empty.wall, 1e-9))
        return {"available": True, "steps": steps,
                "variants": {name: {"samples_per_second": summary(values)} for name, values in measured.items()}}

    # ------------------------------------------------------------ all

    def run(self):
        started = datetime.datetime.now().astimezone()
        self.results["date"] = started.isoformat(timespec="seconds")
        revision = subprocess.run(["git", "-C", self.root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        self.results["commit"] = os.environ.get("BENCH_COMMIT") or revision.stdout.strip() or "unknown"
        self.results["machine"] = self.machine()
        self.results["settings"] = {
            "repeats": self.args.repeats, "mlp_steps": self.args.mlp_steps, "cnn_steps": self.args.cnn_steps,
            "batch_size": BATCH_SIZE, "threads": self.threads, "seed": 42, "build_dir": self.args.build_dir,
        }
        sections = self.args.sections
        if "overhead" in sections or "python" in sections or "memory" in sections:
            self.results["sections"]["overhead"] = self.overhead()
        if "checkpoint" in sections:
            self.results["sections"]["checkpoint"] = self.checkpoint()
        if "loader" in sections:
            self.results["sections"]["loader"] = self.loader()
        if "startup" in sections:
            self.results["sections"]["startup"] = self.startup()
        if "ddp" in sections:
            self.log("ddp")
            self.results["sections"]["ddp"] = self.ddp()
        self.results["machine"]["load_average_after"] = os.getloadavg()
        self.results["duration_s"] = round(time.time() - started.timestamp(), 1)
        self.results["commands"] = [{"what": what, "command": self.display(command)} for what, command in self.commands]
        shutil.rmtree(self.work, ignore_errors=True)
        return self.results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", required=True, help="repository root (configs/ and bench/ are read from it)")
    parser.add_argument("--build-dir", required=True, help="CMake build folder with app/trainer and bench/")
    parser.add_argument("--torch-python", default="/usr/bin/python3", help="interpreter with torch installed")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads of every program")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats of each comparison")
    parser.add_argument("--startup-repeats", type=int, default=5)
    parser.add_argument("--mlp-steps", type=int, default=1500)
    parser.add_argument("--cnn-steps", type=int, default=300)
    parser.add_argument("--ddp-steps", type=int, default=150)
    parser.add_argument("--checkpoint-epochs", type=int, default=50, help="one-batch epochs per checkpoint run")
    parser.add_argument("--loader-epochs", type=int, default=2, help="epochs per timed loader pass")
    parser.add_argument("--loader-repeats", type=int, default=5)
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=SECTIONS)
    parser.add_argument("--json", required=True, help="where to write the machine-readable results")
    parser.add_argument("--markdown", required=True, help="where to write the report")
    parser.add_argument("--profile-notes", help="a Markdown file copied into the report's profile section")
    args = parser.parse_args()

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import report  # bench/report.py: the Markdown writer

    results = Suite(args).run()
    results["invocation"] = os.environ.get("BENCH_INVOCATION", "scripts/bench.sh")
    with open(args.json, "w") as file:
        json.dump(results, file, indent=2)
        file.write("\n")
    notes = open(args.profile_notes).read() if args.profile_notes and os.path.exists(args.profile_notes) else None
    with open(args.markdown, "w") as file:
        file.write(report.render(results, notes))
    print(f"wrote {args.json} and {args.markdown} in {results['duration_s']} s")


if __name__ == "__main__":
    main()
