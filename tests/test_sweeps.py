"""map_in_processes: same results as a plain loop, in order, with errors that name the item.

Every function sent to a worker is defined at module level: workers may be spawned (always
when JAX is loaded, as it is once tests/test_jax_port.py has run in the same pytest session),
and a spawned worker finds the function by importing this module.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import types
from concurrent.futures import ProcessPoolExecutor

import pytest
import torch

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.loss import lm_loss
from mingpt_lab import sweeps
from mingpt_lab.sweeps import default_processes, default_start_method, map_in_processes

HAS_FORK = "fork" in multiprocessing.get_all_start_methods()


@pytest.fixture(autouse=True)
def cpu_workers(monkeypatch):
    """The workers here use only the CPU, which a forked child can do even after its parent asked
    for CUDA; so on a GPU machine (make test-gpu) these tests fork as they would on a CPU one.
    The tests of the CUDA rule patch CUDA back in."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def _few_steps(seed: int) -> tuple[list[float], dict]:
    """A tiny self-seeded training run: three AdamW steps of a 1-layer GPT on random tokens."""
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=5, block_size=6, n_layer=1, n_head=2, n_embd=8, dropout=0.1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    tokens = torch.randint(0, 5, (4, 7))
    losses = []
    for _ in range(3):
        loss = lm_loss(model(tokens[:, :-1]), tokens[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, model.state_dict()


def _threads_and_pid(_item) -> tuple[int, int]:
    import os

    return torch.get_num_threads(), os.getpid()


def _fail_on_two(item: int) -> int:
    if item == 2:
        raise ValueError("two is not allowed")
    return item


def _jax_loaded_here(_item) -> bool:
    return "jax" in sys.modules


def _map_with_fork_in_a_fresh_process(seeds: list[int]) -> tuple[bool, list]:
    """Runs in a spawned interpreter, which has not imported JAX even when the test process has:
    there forking is safe, and this exercises ``start_method="fork"`` for real."""
    jax_free = "jax" not in sys.modules
    # This fresh interpreter never asked for CUDA and its workers use the CPU: forking is safe
    # here even on a GPU machine (where the guard would refuse, see test_fork_refuses_...).
    sweeps._cuda_poisons_fork = lambda: False
    return jax_free, map_in_processes(_few_steps, seeds, processes=len(seeds), start_method="fork")


def _map_in_processes(seeds: list[int], start_method: str) -> list:
    if start_method == "spawn":
        return map_in_processes(_few_steps, seeds, processes=len(seeds), start_method="spawn")
    # Forking this pytest process is unsafe if another test module imported JAX (and
    # map_in_processes refuses then), so fork from a fresh, JAX-free process instead.
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as fresh:
        jax_free, results = fresh.submit(_map_with_fork_in_a_fresh_process, seeds).result()
    assert jax_free
    return results


@pytest.mark.parametrize("start_method", [
    pytest.param("fork", marks=pytest.mark.skipif(not HAS_FORK, reason="this platform cannot fork")),
    "spawn",
])
def test_results_equal_a_plain_loop_in_order(start_method, one_thread):
    # one_thread: the workers' thread count here too, so even the last bits agree
    expected = [_few_steps(seed) for seed in (3, 1, 2)]
    got = _map_in_processes([3, 1, 2], start_method)
    assert [losses for losses, _ in got] == [losses for losses, _ in expected]
    for (_, state), (_, expected_state) in zip(got, expected):
        assert state.keys() == expected_state.keys()
        assert all(torch.equal(state[k], expected_state[k]) for k in state)
    assert got[0][0] != got[1][0]  # different seeds really are different runs


def test_workers_are_other_processes_with_the_requested_threads():
    import os

    got = map_in_processes(_threads_and_pid, range(2), processes=2, threads=1)
    assert [threads for threads, _ in got] == [1, 1]
    assert all(pid != os.getpid() for _, pid in got)


def test_one_process_runs_here():
    import os

    assert map_in_processes(_threads_and_pid, [0], processes=4)[0][1] == os.getpid()
    assert map_in_processes(_threads_and_pid, [0, 1], processes=1)[1][1] == os.getpid()
    assert map_in_processes(_threads_and_pid, []) == []


def test_a_failing_call_names_its_item():
    with pytest.raises(RuntimeError, match=r"_fail_on_two\(2\) failed in a worker process: ValueError: two is not"):
        map_in_processes(_fail_on_two, [1, 2, 3], processes=2)


@pytest.mark.parametrize("processes, threads", [(0, 1), (-1, 1), (2.5, 1), (2, 0)])
def test_bad_counts_are_rejected(processes, threads):
    with pytest.raises(ValueError, match="positive integer"):
        map_in_processes(_fail_on_two, [1], processes=processes, threads=threads)


def test_default_processes_one_per_call_capped(monkeypatch):
    """Issue 26-D: the CPU rule, whatever CUDA did earlier in the same pytest run."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    cap = 2 * (os.cpu_count() or 1)
    assert [default_processes(n) for n in (1, 3, 10_000)] == [1, min(3, cap), cap]


def test_spawn_refuses_a_function_it_cannot_send():
    local = lambda item: item  # noqa: E731  (a lambda cannot be pickled by reference)
    with pytest.raises(TypeError, match="cannot be sent to a 'spawn' worker"):
        map_in_processes(local, [1, 2], processes=2, start_method="spawn")
    with pytest.raises(ValueError, match="start_method must be one of"):
        map_in_processes(_fail_on_two, [1, 2], processes=2, start_method="forkserver-typo")


@pytest.mark.parametrize("initialized", [False, True])
def test_fork_refuses_once_cuda_was_asked_for(monkeypatch, initialized):
    """Issue 26-G: torch.cuda.is_available() (which pick_device calls) already makes CUDA unusable
    in forked children, while torch.cuda.is_initialized() is still False."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: initialized)
    assert default_processes(3) == 1  # the default avoids the problem: the calls run here, in turn
    assert map_in_processes(abs, [-1, -3]) == [1, 3]
    with pytest.raises(RuntimeError, match="forked workers cannot use CUDA"):
        map_in_processes(_fail_on_two, [1, 3], processes=2, start_method="fork")


def test_fork_is_never_the_default_on_apple_silicon(monkeypatch):
    monkeypatch.delitem(sys.modules, "jax", raising=False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)  # a Mac with MPS, stood in for
    assert default_start_method() == "spawn"


def test_fork_is_the_default_only_while_jax_is_not_loaded(monkeypatch):
    monkeypatch.delitem(sys.modules, "jax", raising=False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert default_start_method() == ("fork" if HAS_FORK else "spawn")
    monkeypatch.setitem(sys.modules, "jax", types.ModuleType("jax"))  # as if JAX had been imported
    assert default_start_method() == "spawn"
    with pytest.raises(RuntimeError, match="JAX is loaded in this process"):
        map_in_processes(_fail_on_two, [1, 3], processes=2, start_method="fork")
    local = lambda item: item  # noqa: E731
    with pytest.raises(TypeError, match="chosen because JAX is loaded here"):
        map_in_processes(local, [1, 2], processes=2)


def test_with_jax_loaded_the_workers_are_spawned_not_forked(monkeypatch):
    # A forked worker inherits this process's modules, the stand-in "jax" included; a spawned
    # one starts a fresh interpreter that imports only this test module (and not JAX).
    monkeypatch.setitem(sys.modules, "jax", types.ModuleType("jax"))
    assert map_in_processes(_jax_loaded_here, [0, 1], processes=2) == [False, False]
