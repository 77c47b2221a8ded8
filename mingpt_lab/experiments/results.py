"""Result files of many runs: resumable, side by side, written atomically (used by every experiment).

A claim about training ("post-LN's bottom block gets far less gradient", "length 8 takes more
steps than length 4") is a claim about a *distribution* of runs: change the seed, the thread count
or the CPU's kernels and a single run moves. :func:`run_many` runs the many runs such claims need:
``[function(item) for item in items]``, computed side by side in worker processes
(:func:`mingpt_lab.sweeps.map_in_processes`), optionally *resumable*: each finished result is added
to a JSON file at once, and a rerun skips the items already there. A progress bar counts the
finished items.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from tqdm import tqdm

from mingpt_lite.runstate import file_lock, write_json_atomically

from mingpt_lab.sweeps import default_processes, map_in_processes

RESULTS_VERSION = 1


def item_key(item: Any) -> str:
    """The key a result file stores an item's result under: its canonical JSON text."""
    try:
        return json.dumps(item, sort_keys=True, separators=(",", ":"))
    except TypeError as error:
        raise TypeError(f"items of a resumable run must be JSON data (dicts, lists, numbers, strings), "
                        f"got {item!r}") from error


def read_results(path: str | os.PathLike) -> dict:
    """A result file written by :func:`run_many`: ``{"version", "about", "runs": [{"item", "result"}]}``.

    ``about`` is a list with one entry per call of :func:`run_many` that added results (the
    command, machine, kernels and date of each session).

    Raises ``ValueError`` naming the file when it is not one.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; a result file is one JSON file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not text (not UTF-8); it was not written by run_many") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); it was not written by run_many") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise ValueError(f"{path} is not a result file of mingpt_lab.experiments (no 'runs' list)")
    if data.get("version") != RESULTS_VERSION:
        raise ValueError(f"{path} has result format {data.get('version')!r}; this version reads {RESULTS_VERSION}")
    for number, run in enumerate(data["runs"]):
        if not isinstance(run, dict) or not {"item", "result"} <= set(run):
            raise ValueError(f"{path}: run {number} is not an {{'item', 'result'}} record; the file is damaged")
    if not isinstance(data.get("about", []), list):
        raise ValueError(f"{path}: 'about' is not a list; the file is damaged")
    return data


def environment() -> dict:
    """Where a run happens: torch version, CPU kernels (``ATEN_CPU_CAPABILITY``), threads, machine, date."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "date": datetime.date.today().isoformat(),
    }


def run_many(function: Callable[[Any], Any], items: Iterable[Any], results_file: str | os.PathLike | None = None,
             about: dict | None = None, processes: int | None = None, progress: bool = True,
             description: str = "runs") -> list:
    """``[function(item) for item in items]``, side by side in single-threaded worker processes.

    With ``results_file``, the run is resumable: results already in the file (matched by
    :func:`item_key`) are not recomputed, and every batch of finished results is merged into the
    file at once, together with ``about`` (what produced it: command, machine...). Each merge
    reads the file again and writes it atomically under the file's lock
    (:func:`~mingpt_lite.runstate.file_lock`), so two sweeps writing into one file at once lose
    nothing. Items and results must then be JSON data. Results come back in the order of
    ``items``. ``processes`` is as in :func:`~mingpt_lab.sweeps.map_in_processes`; ``progress``
    shows a bar over the items.
    """
    items = list(items)
    keys = [item_key(item) for item in items] if results_file is not None else None
    done: dict[str, Any] = {}
    if results_file is not None and Path(results_file).exists():
        done = {item_key(run["item"]): run["result"] for run in read_results(results_file)["runs"]}
    todo = [i for i, item in enumerate(items) if keys is None or keys[i] not in done]
    if processes is None:
        processes = default_processes(len(todo))
    # Batches of `processes` items: each batch is one map_in_processes call, after which its
    # results are saved, so an interruption loses at most the batch in progress.
    batch = max(1, processes) if results_file is not None else max(1, len(todo))
    computed: dict[int, Any] = {}
    bar = _progress(len(items), len(items) - len(todo), description, progress)
    try:
        for start in range(0, len(todo), batch):
            chunk = todo[start : start + batch]
            results = map_in_processes(function, [items[i] for i in chunk], processes=min(processes, len(chunk)))
            for i, result in zip(chunk, results):
                computed[i] = result
            if results_file is not None:
                new_runs = [{"item": items[i], "result": computed[i]} for i in chunk]
                done.update(_merge(results_file, new_runs, about if start == 0 else None))
            bar.update(len(chunk))
    finally:
        bar.close()
    if keys is None:
        return [computed[i] for i in range(len(items))]
    return [done[key] for key in keys]


def _merge(results_file: str | os.PathLike, new_runs: list[dict], about: dict | None) -> dict[str, Any]:
    """Add ``new_runs`` (and ``about``) to what the file holds now; returns every result by item key."""
    with file_lock(results_file, wait=True):
        existing = read_results(results_file) if Path(results_file).exists() else {"about": [], "runs": []}
        runs = {item_key(run["item"]): run for run in existing["runs"]}
        runs.update({item_key(run["item"]): run for run in new_runs})
        sessions = list(existing.get("about", [])) + ([dict(about)] if about is not None else [])
        write_json_atomically(results_file, {"version": RESULTS_VERSION, "about": sessions,
                                             "runs": list(runs.values())})
    return {key: run["result"] for key, run in runs.items()}


def _progress(total: int, initial: int, description: str, show: bool):
    return tqdm(total=total, initial=initial, desc=description, unit="run", file=sys.stderr,
                disable=not show or total == 0)


def in_item_setting(item: dict) -> dict:
    """Check and set up the setting an item's key names; returns the item without it.

    The kernels an item was recorded with are part of its key: refuse to compute it under
    others. Its thread count (1 unless the item names one) is part of the key too, and set here.
    """
    capability = torch.backends.cpu.get_cpu_capability()
    if item.get("kernels") not in (None, capability):
        raise RuntimeError(f"item asks for CPU kernels {item['kernels']} but this process uses {capability}")
    torch.set_num_threads(item.get("threads", 1))
    return {k: v for k, v in item.items() if k not in ("kernels", "threads")}
