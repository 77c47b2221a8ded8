"""Data-parallel training on an existing engine: PyTorch DDP, launched by ``torchrun``.

The notes plan to move to DeepSpeed and Ray. Before either, PyTorch itself ships
the simplest form of scaling out: *data parallelism*. Every process holds a full
copy of the model, takes its own share of each batch, computes gradients, and
DistributedDataParallel averages the gradients across processes (an all-reduce)
during ``backward``, so every copy takes the same optimizer step.

``torchrun --nproc_per_node N script.py`` starts N processes and tells each its
rank and the world size through environment variables; :func:`init_distributed`
reads them and joins the process group (gloo on CPU, NCCL on CUDA). The
:class:`~mingpt_lite.trainer.Trainer` notices the process group and does the rest:
it wraps the model in DDP and has every process draw the *same* global batch from
identically seeded generators, keeping only its own slice. Two processes therefore
train on exactly the batches one process would, and their averaged gradient is the
one-process gradient up to the order of floating-point additions.

Two helpers serve the chapter and its exercises: :func:`flat_gradient` (one batch's
gradient as a single vector, to compare what ranks compute with the full batch's) and
:func:`model_state_gb` (the ZeRO paper's count of per-GPU memory for model states).

Running this module trains the sort task and writes the per-step losses to JSON:
``torchrun --standalone --nproc_per_node 2 -m mingpt_lite.distributed --out losses.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .config import GPTConfig
from .data import SortTask
from .device import pick_device
from .loss import lm_loss
from .model import GPT
from .trainer import Trainer, TrainerConfig

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class DistributedInfo:
    """Where this process stands: its rank among ``world_size`` processes and its device."""

    rank: int
    local_rank: int
    world_size: int
    backend: str | None
    device: torch.device

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that prints and writes files."""
        return self.rank == 0


def launched_by_torchrun() -> bool:
    """Whether this process was started by ``torchrun`` (its rank variables are set)."""
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def init_distributed(backend: str | None = None, device: str | None = None) -> DistributedInfo:
    """Join the process group torchrun set up; without torchrun, a one-process "group".

    ``backend`` defaults to NCCL when the device is CUDA, gloo otherwise. With NCCL
    each process takes the GPU of its local rank. Call :func:`shutdown` at the end.
    """
    if not launched_by_torchrun():
        return DistributedInfo(0, 0, 1, None, pick_device(device))
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ["LOCAL_RANK"])
    world_size = int(os.environ["WORLD_SIZE"])
    chosen = pick_device(device)
    if chosen.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"local rank {local_rank} has no GPU: only {torch.cuda.device_count()} visible; "
                f"start at most that many processes per node"
            )
        torch.cuda.set_device(local_rank)
        chosen = torch.device("cuda", local_rank)
    backend = backend or ("nccl" if chosen.type == "cuda" else "gloo")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistributedInfo(rank, local_rank, world_size, backend, chosen)


def shutdown() -> None:
    """Leave the process group (a no-op when there is none).

    Every rank first waits at a barrier, so that no rank tears its connections down while
    another is still finishing (rank 0 writing its results, say): a rank that destroyed its
    group and exited early once left rank 0 waiting in ``destroy_process_group`` for good
    (gloo, 2 ranks, seen once in a test run). PyTorch's own advice for such hangs is the same
    barrier (pytorch/pytorch#75097)."""
    if dist.is_available() and dist.is_initialized():
        if dist.get_world_size() > 1:
            dist.barrier()
        dist.destroy_process_group()


def run_torchrun(args: list[str], nproc: int = 2, timeout: float | None = 600, env: dict | None = None,
                 retries: int = 0):
    """Start ``torchrun --standalone --nproc_per_node nproc <args>`` and wait for it.

    For notebooks: e.g. ``run_torchrun(["-m", "mingpt_lite.distributed", "--out", "l.json"])``.
    Returns the ``subprocess.CompletedProcess`` (stdout and stderr captured as text);
    raises ``RuntimeError`` with the processes' output if it fails.

    ``timeout`` is per attempt. When it runs out, torchrun and its workers (one process
    group) are killed, and with ``retries`` left the launch starts over, saying so on
    stderr. This is for a rare hang of gloo's teardown: on the 2-core test machine, about
    2 runs in 25 wrote their results and then never exited.
    """
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={nproc}", *args,
    ]
    full_env = {**os.environ, **(env or {})}
    for name in TORCHRUN_VARS:  # a launcher inside a launched process must not inherit these
        full_env.pop(name, None)
    for attempt in range(retries + 1):
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env,
                                start_new_session=True)  # its own process group: a timeout kills the workers too
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
            break
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            if attempt == retries:
                raise RuntimeError(f"torchrun did not finish within {timeout} s"
                                   + (f" in any of {retries + 1} attempts" if retries else "")) from None
            print(f"torchrun did not finish within {timeout} s; killed it and its workers, starting again "
                  f"(attempt {attempt + 2} of {retries + 1})", file=sys.stderr)
    done = subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)
    if done.returncode != 0:
        raise RuntimeError(
            f"torchrun exited with {done.returncode}\n--- stdout ---\n{done.stdout[-4000:]}"
            f"\n--- stderr ---\n{done.stderr[-4000:]}"
        )
    return done


def flat_gradient(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """The gradient of ``model``'s loss on one batch, flattened into a single vector.

    The loss is :func:`~mingpt_lite.loss.lm_loss` of ``model(x)`` against the targets ``y``:
    with ``reduction="mean"`` its mean over the scored targets (those not ``-1``), with
    ``reduction="sum"`` their sum. The gradients of all parameters, in ``model.parameters()``
    order, are concatenated into one 1-D tensor of the parameters' dtype, so the gradients of
    different batches (one rank's share against the whole batch) can be compared or averaged
    directly. Zeroes the model's gradients first and leaves this batch's in ``p.grad``.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    model.zero_grad()
    loss = lm_loss(model(x), y)
    if reduction == "sum":
        loss = loss * (y != -1).sum()
    loss.backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def model_state_gb(n_params: float, n_gpus: int, stage: int, optimizer_bytes: float = 12) -> float:
    """Memory per GPU, in GB (10**9 bytes), for the model states of mixed-precision Adam training.

    The count of the ZeRO paper (Rajbhandari et al. 2020): 2 bytes per parameter for the fp16
    parameters, 2 for their fp16 gradients and ``optimizer_bytes`` (K = 12 for Adam: an fp32
    master copy, momentum and variance) for the optimizer state, so 16 bytes per parameter on
    every GPU under plain data parallelism. Activations, buffers and fragmentation are not
    counted.

    Arguments: ``n_params``, the number of parameters; ``n_gpus``, the data-parallel workers
    (N); ``stage``, the ZeRO stage: 0 is plain DDP (everything replicated), 1 partitions the
    optimizer state over the N workers, 2 also the gradients, 3 also the parameters;
    ``optimizer_bytes``, K. Returns ``(2 + 2 + K) * n_params / 1e9`` at stage 0, with each
    partitioned term divided by ``n_gpus`` at the higher stages.
    """
    if stage not in (0, 1, 2, 3):
        raise ValueError(f"ZeRO stage must be 0, 1, 2 or 3, got {stage!r}")
    params, grads, optim = 2 * n_params, 2 * n_params, optimizer_bytes * n_params
    if stage >= 1:
        optim /= n_gpus
    if stage >= 2:
        grads /= n_gpus
    if stage >= 3:
        params /= n_gpus
    return (params + grads + optim) / 1e9


def _parse(argv):
    parser = argparse.ArgumentParser(
        prog="python -m mingpt_lite.distributed",
        description="Train the sort task, data-parallel when launched by torchrun, and write "
        "the per-step training losses to a JSON file (rank 0 writes).",
    )
    parser.add_argument("--out", required=True, help="JSON file for the losses and run facts")
    parser.add_argument("--iters", type=int, default=30, help="optimizer steps (default 30)")
    parser.add_argument("--batch-size", type=int, default=32, help="global batch size, split over processes (default 32)")
    parser.add_argument("--length", type=int, default=6, help="digits per sort problem (default 6)")
    parser.add_argument("--num-digits", type=int, default=3, help="distinct digits (default 3)")
    parser.add_argument("--n-layer", type=int, default=2, help="transformer blocks (default 2)")
    parser.add_argument("--n-embd", type=int, default=32, help="model width (default 32)")
    parser.add_argument("--dropout", type=float, default=0.0,
                        help="dropout (default 0: with dropout each process draws its own masks, "
                        "so runs are only statistically equal to one process)")
    parser.add_argument("--lr", type=float, default=3e-3, help="learning rate (default 3e-3)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the model and the batches")
    parser.add_argument("--device", default="cpu", help="cpu (gloo) or cuda (NCCL); default cpu")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Entry point of ``python -m mingpt_lite.distributed`` (see the module docstring)."""

    args = _parse(argv)
    info = init_distributed(device=args.device)
    try:
        task = SortTask(length=args.length, num_digits=args.num_digits)
        torch.manual_seed(args.seed)  # the same initial weights in every process
        model = GPT(GPTConfig(
            vocab_size=task.vocab_size, block_size=task.block_size, n_layer=args.n_layer,
            n_head=2, n_embd=args.n_embd, dropout=args.dropout,
        ))
        config = TrainerConfig(
            max_iters=args.iters, batch_size=args.batch_size, learning_rate=args.lr,
            seed=args.seed, device=str(info.device), progress=False, log_interval=10,
        )
        trainer = Trainer(model, task, config).train()
        if info.is_main:
            with open(args.out, "w") as f:
                json.dump({"world_size": info.world_size, "backend": info.backend,
                           "losses": trainer.losses, "ms_per_iter": trainer.ms_per_iter}, f)
    finally:
        shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
