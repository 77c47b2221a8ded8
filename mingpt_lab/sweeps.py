"""Run independent experiments side by side in worker processes, one CPU thread each.

Small models train badly in parallel *inside* one process: a gpt-nano step is a few hundred
tiny matrix products, and splitting each of them over two threads buys about 10%. Three
runs in three single-threaded processes keep both cores of a laptop (or CI machine) busy
instead, so a comparison of three variants takes about the time of one and a half.

``map_in_processes(function, items)`` is ``[function(item) for item in items]`` computed that
way. Each call must be self-contained: seed inside ``function`` (the runs then do not depend on
which worker ran them or when), and return plain data (losses, a ``state_dict``, numbers),
because results travel back to the caller by pickling. On a machine with a CUDA GPU, or with
``processes=1``, the calls simply run one after another in this process (see
:func:`default_processes` for why a GPU machine does not fork).

Workers are started with ``fork`` where the platform has it and it is safe, so a function
defined in a notebook cell works. Forking is not safe once JAX is imported: JAX runs threads of
its own, and a forked copy of a multithreaded process can deadlock. So when ``jax`` is loaded
(or the platform has no ``fork``, or with ``start_method="spawn"``) workers are spawned, and
the function must be importable from a module.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
from typing import Callable, Iterable, TypeVar

import torch

Item = TypeVar("Item")
Result = TypeVar("Result")


def _limit_threads(threads: int) -> None:
    # Runs first in every worker. One thread per worker: the workers, not the threads inside
    # each matrix product, are what fill the cores.
    torch.set_num_threads(threads)


def _cuda_poisons_fork() -> bool:
    """Whether a forked worker of this process could not use CUDA.

    torch documents that once a process has initialised the CUDA driver, a forked child cannot
    use CUDA ("poison fork"). ``torch.cuda.is_available()`` already initialises the driver, long
    before ``torch.cuda.is_initialized()`` turns true, and :func:`~mingpt_lite.device.pick_device`
    calls it whenever it chooses a device. So on a machine with a CUDA GPU, any process that has
    picked a device, or asked this very question, is in that state: the answer is "CUDA is here".
    """
    return torch.cuda.is_available()


def default_processes(count: int) -> int:
    """How many worker processes ``map_in_processes`` starts for ``count`` calls.

    One per call, up to twice the CPU count: with single-threaded workers, more processes than
    cores still finishes uneven jobs sooner than waiting for a free core, and twice the cores
    bounds the memory. 1 (run in this process) on a machine with a CUDA GPU: see
    :func:`_cuda_poisons_fork`.
    """
    if _cuda_poisons_fork():
        return 1
    return max(1, min(count, 2 * (os.cpu_count() or 1)))


def default_start_method() -> str:
    """How ``map_in_processes`` starts its workers when not told: ``"fork"`` where the platform
    has it and nothing loaded here makes it unsafe, else ``"spawn"``.

    Fork is unsafe once ``jax`` is imported: JAX starts threads of its own, and a forked child
    of a multithreaded process can deadlock on a lock some other thread held at the fork (JAX
    itself warns "os.fork() was called ..."). It is unsafe on Apple silicon too: the Metal
    framework behind MPS, like most of macOS's, does not survive a fork. Spawned workers start a
    fresh interpreter instead.
    """
    if ("fork" not in multiprocessing.get_all_start_methods() or "jax" in sys.modules
            or torch.backends.mps.is_available()):
        return "spawn"
    return "fork"


def map_in_processes(function: Callable[[Item], Result], items: Iterable[Item], processes: int | None = None,
                     threads: int = 1, start_method: str | None = None) -> list[Result]:
    """``[function(item) for item in items]``, computed in ``processes`` worker processes.

    Results come back in the order of ``items``. ``threads`` is the number of torch threads in
    each worker. ``start_method`` is ``"fork"`` or ``"spawn"``; left unset,
    :func:`default_start_method` chooses (fork, unless JAX is loaded or the platform lacks it).
    If a call raises, the error is raised here, naming the item, once the other running calls
    have been stopped. Ctrl-C stops the workers too.
    """
    items = list(items)
    if processes is None:
        processes = default_processes(len(items))
    if not isinstance(processes, int) or processes < 1:
        raise ValueError(f"processes must be a positive integer, got {processes!r}")
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    if processes == 1 or len(items) <= 1:
        return [function(item) for item in items]

    methods = multiprocessing.get_all_start_methods()
    chosen = start_method is None
    if chosen:
        start_method = default_start_method()
    if start_method not in ("fork", "spawn") or start_method not in methods:
        available = [method for method in ("fork", "spawn") if method in methods]
        raise ValueError(f"start_method must be one of {available} here, got {start_method!r}")
    context = multiprocessing.get_context(start_method)
    if start_method == "fork" and _cuda_poisons_fork():
        raise RuntimeError("this machine has a CUDA GPU, and once a process has asked for it (torch.cuda.is_available(), "
                           "which pick_device calls) forked workers cannot use CUDA: pass processes=1, or "
                           "start_method='spawn' with a function defined in a module")
    if start_method == "fork" and "jax" in sys.modules:
        raise RuntimeError("JAX is loaded in this process, and forking a process that runs JAX's threads can "
                           "deadlock: leave start_method unset (workers are then spawned) or pass processes=1")
    if start_method == "spawn":
        try:
            pickle.dumps(function)
        except Exception as error:  # pickle raises several types here
            why = " (chosen because JAX is loaded here, which makes fork unsafe)" if chosen and "jax" in sys.modules else ""
            raise TypeError(f"{getattr(function, '__qualname__', function)!r} cannot be sent to a 'spawn' worker "
                            f"process{why}: define it in an importable module, not in a notebook, or pass "
                            f"processes=1") from error

    pool = context.Pool(min(processes, len(items)), initializer=_limit_threads, initargs=(threads,))
    try:
        pending = [pool.apply_async(function, (item,)) for item in items]
        results = []
        for item, result in zip(items, pending):
            try:
                results.append(result.get())
            except Exception as error:
                raise RuntimeError(f"{getattr(function, '__name__', function)}({item!r}) failed in a worker "
                                   f"process: {type(error).__name__}: {error}") from error
        pool.close()
        return results
    finally:
        # On success the pool is closed and this waits for the workers to exit; on an error or
        # Ctrl-C it stops the calls still running instead of leaving them to finish unseen.
        pool.terminate()
        pool.join()
