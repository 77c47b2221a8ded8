"""The prepared GPU check (issue 26): one command, a bounded time, one JSON summary plus a log per step.

    tools/gpu_check.sh OUT                      on the GPU machine: every step on cuda, at most 6 minutes
    tools/gpu_check.sh --device cpu OUT         the rehearsal on the CPU: smaller settings, under 10 minutes
    tools/gpu_check.sh --only env,bench-generate OUT   a few steps (the others are listed as skipped)
    tools/gpu_check.sh --prepare [DIR]          beforehand, on a machine with a network: wheels + peers

The steps: the machine and torch (``env``); the notebook tooling, installed from prepared wheels
if missing (``tooling``); the device-aware unit tests (``unit-tests``, MINGPT_TEST_DEVICE); every
notebook that trains, each one step (``notebook:chapters/...``, ``tools/book.py run --device``,
assertions checked); ``bench sort`` demo and fast against minGPT at fp32 and bf16; ``bench
generate``; ``bench char --recipe fast`` against nanoGPT. The unit tests and the notebooks run
first, side by side (correctness only); the benchmarks then run one at a time, alone on the device,
because they measure speed.

Every step has its own timeout, and the whole run a budget: a step that would start after the
budget is spent is recorded as skipped, so the run ends in time and what finished is kept.
``OUT/summary.json`` is rewritten after every step, so even a run that is killed leaves the steps
done so far. Its shape::

    {"check": "gpu_check", "version": 1, "device": "cuda", "rehearsal": false, "budget_s": 360,
     "started": "...Z", "finished": "...Z" | null, "seconds": 301.2,
     "machine": {"python": ..., "torch": ..., "cuda": ..., "device_name": ..., "bf16": ...},
     "steps": [{"name": "env", "status": "passed" | "failed" | "timeout" | "skipped",
                "why": "..." (skipped only), "rc": 0, "seconds": 1.3, "timeout_s": 60,
                "command": [...], "log": "logs/env.log", "result": {...} | null}, ...],
     "counts": {"passed": 12, "failed": 0, "timeout": 0, "skipped": 0}}

``result`` is the last JSON object the step printed (the benchmarks print one), else null.
The run exits 0 when no step failed or timed out.

The peers (minGPT, nanoGPT) live in the git-ignored ``.peer/`` folder and the wheels in
``.peer/wheels``; ``--prepare`` fills both (a ``git clone`` where GitHub is reachable, else a copy
of a local git mirror named with ``--peer-mirror NAME=GIT_DIR``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEER_DIR = ROOT / ".peer"
PEERS = {"minGPT": "https://github.com/karpathy/minGPT.git", "nanoGPT": "https://github.com/karpathy/nanoGPT.git"}
# What the notebooks and tests need beyond torch; a GPU machine's own Python often lacks them.
TOOLING = {"jupytext": "jupytext", "nbclient": "nbclient", "nbformat": "nbformat", "ipykernel": "ipykernel",
           "nbval": "nbval", "matplotlib": "matplotlib", "pytest": "pytest", "safetensors": "safetensors",
           "tqdm": "tqdm", "numpy": "numpy"}
# A notebook trains if its code builds a Trainer, steps an optimizer by hand or runs a sweep.
TRAINS = re.compile(r"Trainer\(|\.backward\(\)|train_sort\(|\bsolve\(|run_many\(")
# A unit test is device-aware if it takes the `device` fixture (tests/conftest.py).
DEVICE_AWARE = re.compile(r"^def test_\w+\([^)]*\bdevice\b", re.M)


@dataclass
class Settings:
    """Time limits (seconds) and sizes: the GPU run's, or the CPU rehearsal's."""

    budget: int
    parallel: int  # notebooks (and the unit tests) side by side
    notebook_timeout: int
    unit_timeout: int
    sort_timeout: int
    generate_timeout: int
    char_timeout: int
    sort_args: list[str] = field(default_factory=list)
    generate_args: list[str] = field(default_factory=list)
    char_args: list[str] = field(default_factory=list)
    notebooks: list[str] | None = None  # None: every notebook that trains
    # Whether `bench sort --recipe fast` and `bench char` run their peer. The peer always runs its
    # own full recipe (minGPT's 2000 demo steps, nanoGPT's 2000 steps), which --iters does not
    # shorten: minutes on a CPU, seconds on a GPU.
    fast_peers: bool = True


GPU = Settings(budget=360, parallel=6, notebook_timeout=170, unit_timeout=150, sort_timeout=50,
               generate_timeout=40, char_timeout=80)
# The rehearsal runs every step, but a few iterations of each benchmark (the peers only beside
# the demo recipe, see fast_peers) and one short notebook (the solutions of chapter 07 train the
# sort model and sample it), on two busy cores.
REHEARSAL = Settings(budget=570, parallel=1, notebook_timeout=240, unit_timeout=300, sort_timeout=90,
                     generate_timeout=90, char_timeout=120, fast_peers=False,
                     sort_args=["--iters", "30"],
                     generate_args=["--preset", "gpt-nano", "--new-tokens", "16", "--batch-sizes", "1",
                                    "--repeats", "1"],
                     char_args=["--iters", "10"],
                     notebooks=["chapters/solutions/07_generation.py"])


@dataclass
class Step:
    name: str
    command: list[str]
    timeout: int
    env: dict[str, str] = field(default_factory=dict)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def write_json(path: Path, value) -> None:
    """Write ``value`` as JSON to ``path`` through a temporary file, so a reader never sees half of it."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(value, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, path)


def last_json_object(text: str):
    """The last line of ``text`` that is a JSON object, or None."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


# --------------------------------------------------------------------------- the steps

ENV_SCRIPT = r"""
import json, os, platform, sys
import torch
info = {"python": platform.python_version(), "executable": sys.executable, "platform": platform.platform(),
        "torch": torch.__version__, "torch_file": torch.__file__, "cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(), "cpu_count": os.cpu_count()}
device = torch.device(sys.argv[1])
if device.type == "cuda":
    props = torch.cuda.get_device_properties(device)
    info.update(device_name=props.name, capability=f"{props.major}.{props.minor}",
                memory_gib=round(props.total_memory / 2**30, 1), bf16=torch.cuda.is_bf16_supported(),
                driver=getattr(torch.cuda, "driver_version", lambda: None)() if hasattr(torch.cuda, "driver_version") else None)
    x = torch.randn(256, 256, device=device)
    info["matmul_ok"] = bool(torch.isfinite(x @ x).all())
elif device.type == "mps":
    info.update(device_name="mps", bf16=True)
else:
    info.update(device_name=platform.processor() or platform.machine(), bf16=True)
print(json.dumps(info))
"""

TOOLING_SCRIPT = r"""
import importlib.util, json, sys
missing = [m for m in sys.argv[1:] if importlib.util.find_spec(m) is None]
print(json.dumps({"missing": missing}))
"""


def tooling_step(py: str, wheels: Path, timeout: int) -> Step:
    """Check the tooling; where some is missing and wheels were prepared, install it from them (no network)."""
    modules = " ".join(TOOLING)
    packages = " ".join(TOOLING.values())
    script = (
        f'missing=$("{py}" -c \'{TOOLING_SCRIPT}\' {modules}); echo "$missing"\n'
        f'case "$missing" in *\'"missing": []\'*) exit 0 ;; esac\n'
        f'if [ ! -d "{wheels}" ]; then echo "some tooling is missing and there are no wheels in {wheels}: '
        f'run tools/gpu_check.sh --prepare beforehand"; exit 1; fi\n'
        f'"{py}" -m pip install --quiet --no-index --find-links "{wheels}" {packages} || exit 1\n'
        f'"{py}" -c \'{TOOLING_SCRIPT}\' {modules}\n'
    )
    return Step("tooling", ["bash", "-c", script], timeout)


def training_notebooks() -> list[str]:
    """book.toml's notebooks (chapters, then solutions) whose code trains something."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import book  # tools/book.py: book.toml's notebooks in book order
    finally:
        sys.path.pop(0)
    return [n.rel_py for n in book.load_book().notebooks if TRAINS.search(n.py.read_text(encoding="utf-8"))]


def device_aware_test_files() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py")
                  if DEVICE_AWARE.search(p.read_text(encoding="utf-8")))


def plan(py: str, device: str, settings: Settings, out: Path) -> tuple[list[Step], list[Step]]:
    """(steps that run side by side, steps that run alone), env and tooling included in the second's head."""
    bench = [py, "-m", "mingpt_lab", "bench"]
    minGPT, nanoGPT = str(PEER_DIR / "minGPT"), str(PEER_DIR / "nanoGPT")
    first = [Step("env", [py, "-c", ENV_SCRIPT, device], 60),
             tooling_step(py, PEER_DIR / "wheels", 120)]
    side_by_side = [Step("unit-tests", [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", *device_aware_test_files()],
                         settings.unit_timeout, {"MINGPT_TEST_DEVICE": device})]
    for notebook in settings.notebooks or training_notebooks():
        side_by_side.append(Step(f"notebook:{notebook}",
                                 [py, "tools/book.py", "run", "--device", device, "--out", str(out / "notebooks"),
                                  "--timeout", str(settings.notebook_timeout), notebook],
                                 settings.notebook_timeout + 30))
    alone = []
    for recipe in ("demo", "fast"):
        peer = ["--peer", minGPT] if recipe == "demo" or settings.fast_peers else []
        for precision in ("fp32", "bf16"):
            alone.append(Step(f"bench-sort-{recipe}-{precision}",
                              [*bench, "sort", "--recipe", recipe, "--device", device, "--precision", precision,
                               *peer, "--quiet", *settings.sort_args], settings.sort_timeout))
    alone.append(Step("bench-generate", [*bench, "generate", "--device", device, "--peer", minGPT, "--no-progress",
                                         "--json", str(out / "results" / "bench-generate.json"),
                                         *settings.generate_args], settings.generate_timeout))
    peer = ["--peer", nanoGPT] if settings.fast_peers else []
    alone.append(Step("bench-char-fast", [*bench, "char", "--recipe", "fast", "--device", device, *peer,
                                          *settings.char_args], settings.char_timeout))
    return first + side_by_side, alone


class Run:
    """Runs steps, each in its own process group with its own timeout, and keeps the summary current."""

    def __init__(self, out: Path, summary: dict, deadline: float):
        self.out, self.summary, self.deadline = out, summary, deadline
        self.lock = threading.Lock()
        (out / "logs").mkdir(parents=True, exist_ok=True)
        (out / "results").mkdir(parents=True, exist_ok=True)

    def record(self, entry: dict) -> None:
        with self.lock:
            for i, old in enumerate(self.summary["steps"]):
                if old["name"] == entry["name"]:
                    self.summary["steps"][i] = entry
            counts = {s: 0 for s in ("passed", "failed", "timeout", "skipped", "pending")}
            for step in self.summary["steps"]:
                counts[step["status"]] += 1
            self.summary["counts"] = {k: v for k, v in counts.items() if k != "pending" or v}
            self.write()

    def write(self) -> None:
        self.summary["seconds"] = round(time.monotonic() - self.summary["_t0"], 1)
        write_json(self.out / "summary.json", {k: v for k, v in self.summary.items() if not k.startswith("_")})

    def skip(self, step: Step, why: str) -> None:
        self.record({"name": step.name, "status": "skipped", "why": why, "command": step.command})

    def run(self, step: Step) -> dict:
        left = self.deadline - time.monotonic()
        if left < 5:
            self.skip(step, "the run's time budget was spent before this step could start")
            return self.summary
        timeout = int(min(step.timeout, left))
        log = self.out / "logs" / (re.sub(r"[^A-Za-z0-9_.-]+", "_", step.name) + ".log")
        env = {**os.environ, **step.env}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        start = time.monotonic()
        with open(log, "w", encoding="utf-8") as sink:
            sink.write(f"$ {' '.join(step.command)}\n(timeout {timeout} s, started {now()})\n")
            sink.flush()
            process = subprocess.Popen(step.command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # its own process group: a timeout stops it all
            try:
                rc = process.wait(timeout)
                status = "passed" if rc == 0 else "failed"
            except subprocess.TimeoutExpired:
                stop(process)
                rc, status = None, "timeout"
        seconds = round(time.monotonic() - start, 1)
        text = log.read_text(encoding="utf-8", errors="replace")
        result = last_json_object(text)
        named = self.out / "results" / f"{step.name}.json"
        if result is None and named.is_file():
            result = json.loads(named.read_text(encoding="utf-8"))
        entry = {"name": step.name, "status": status, "rc": rc, "seconds": seconds, "timeout_s": timeout,
                 "command": step.command, "log": str(log.relative_to(self.out)), "result": result}
        if step.name == "env" and result:
            self.summary["machine"] = result
        self.record(entry)
        print(f"{status:>7}  {step.name}  ({seconds} s)", flush=True)
        return entry


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the step's whole process group, then SIGKILL if it has not gone in 5 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(5)
            return
        except subprocess.TimeoutExpired:
            continue


def check(args) -> int:
    device = args.device
    settings = REHEARSAL if device == "cpu" else GPU
    if args.budget:
        settings = dataclasses.replace(settings, budget=args.budget)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    py = args.python or sys.executable
    first_and_parallel, alone = plan(py, device, settings, out)
    head, parallel = first_and_parallel[:2], first_and_parallel[2:]
    every = head + parallel + alone
    only = [s for s in (args.only or "").split(",") if s]
    unknown = [s for s in only if not any(step.name == s or step.name.startswith(s) for step in every)]
    if unknown:
        print(f"--only: no step named {', '.join(unknown)}; the steps: {', '.join(s.name for s in every)}",
              file=sys.stderr)
        return 2
    summary = {"check": "gpu_check", "version": 1, "device": device, "rehearsal": device == "cpu",
               "budget_s": settings.budget, "started": now(), "finished": None, "seconds": 0.0,
               "python": py, "machine": None, "_t0": time.monotonic(),
               "steps": [{"name": s.name, "status": "pending", "command": s.command} for s in every]}
    run = Run(out, summary, time.monotonic() + settings.budget)
    chosen = lambda step: not only or any(step.name == s or step.name.startswith(s) for s in only)  # noqa: E731
    for step in every:
        if not chosen(step):
            run.skip(step, "not selected by --only")
    print(f"gpu_check on {device}: {sum(map(chosen, every))} of {len(every)} steps, budget {settings.budget} s, "
          f"summary in {out / 'summary.json'}", flush=True)
    for step in head:
        if chosen(step):
            run.run(step)
    with ThreadPoolExecutor(max_workers=settings.parallel) as pool:
        list(pool.map(run.run, [s for s in parallel if chosen(s)]))
    for step in alone:
        if chosen(step):
            run.run(step)
    summary["finished"] = now()
    run.write()
    counts = summary["counts"]
    print(f"gpu_check: {counts.get('passed', 0)} passed, {counts.get('failed', 0)} failed, "
          f"{counts.get('timeout', 0)} timed out, {counts.get('skipped', 0)} skipped in {summary['seconds']} s")
    return 0 if not counts.get("failed") and not counts.get("timeout") else 1


# --------------------------------------------------------------------------- prepare

def prepare(args) -> int:
    """Fill ``DIR`` (default .peer/) with the peers' checkouts and wheels for the tooling."""
    target = Path(args.prepare).resolve()
    target.mkdir(parents=True, exist_ok=True)
    mirrors = dict(item.split("=", 1) for item in args.peer_mirror)
    report = {"prepared": now(), "peers": {}, "wheels": None}
    failed = False
    for name, url in PEERS.items():
        dest = target / name
        if dest.is_dir() and any(dest.iterdir()):
            report["peers"][name] = {"source": "already there", "path": str(dest)}
            continue
        how = None
        if shutil.which("git"):
            clone = subprocess.run(["git", "clone", "--quiet", "--depth", "1", url, str(dest)],
                                   capture_output=True, text=True, timeout=300)
            how = f"git clone {url}" if clone.returncode == 0 else None
            if how is None and name in mirrors:  # no GitHub from here: copy a local mirror's newest commit
                shutil.rmtree(dest, ignore_errors=True)
                dest.mkdir(parents=True)
                archive = subprocess.run(f'git --git-dir="{mirrors[name]}" archive HEAD | tar -x -C "{dest}"',
                                         shell=True, capture_output=True, text=True, timeout=300)
                if archive.returncode == 0:
                    commit = subprocess.run(["git", f"--git-dir={mirrors[name]}", "rev-parse", "HEAD"],
                                            capture_output=True, text=True).stdout.strip()
                    how = f"copied from the mirror {mirrors[name]} at {commit}"
        if how is None:
            failed = True
            print(f"prepare: could not fetch {name} ({url}); pass --peer-mirror {name}=GIT_DIR", file=sys.stderr)
            continue
        report["peers"][name] = {"source": how, "path": str(dest)}
        print(f"prepare: {name}: {how}")
    wheels = target / "wheels"
    download = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(wheels),
                               *args.pip_arg, *TOOLING.values()], text=True, timeout=900)
    report["wheels"] = {"path": str(wheels), "ok": download.returncode == 0,
                        "files": sorted(p.name for p in wheels.glob("*"))}
    failed |= download.returncode != 0
    write_json(target / "prepared.json", report)
    print(f"prepare: {len(report['wheels']['files'])} wheel files in {wheels}; report in {target / 'prepared.json'}")
    return 1 if failed else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="tools/gpu_check.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", help="folder for summary.json, logs/ and results/")
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:1, mps, or cpu for the rehearsal")
    parser.add_argument("--only", help="comma-separated step names or prefixes (e.g. env,bench-sort); "
                                       "the others are listed as skipped")
    parser.add_argument("--budget", type=int, help="seconds for the whole run (default 360 on a GPU, 540 on the CPU)")
    parser.add_argument("--python", help="the Python that runs the steps (default: this one)")
    parser.add_argument("--prepare", nargs="?", const=str(PEER_DIR), metavar="DIR",
                        help="instead of checking: fetch the peers and download the tooling's wheels into DIR "
                             "(default .peer/)")
    parser.add_argument("--peer-mirror", action="append", default=[], metavar="NAME=GIT_DIR",
                        help="with --prepare: a local git mirror of minGPT or nanoGPT to copy where GitHub is "
                             "not reachable")
    parser.add_argument("--pip-arg", action="append", default=[],
                        help="with --prepare: passed to pip download, e.g. --pip-arg=--python-version=3.12")
    args = parser.parse_args(argv)
    if args.prepare:
        return prepare(args)
    if not args.out:
        parser.error("name the folder for the summary and the logs, e.g. tools/gpu_check.sh runs/gpu-check")
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
