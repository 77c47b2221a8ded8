"""Training the Flax GPT: the loss, AdamW with the PyTorch rule's weight-decay mask,
and a training step that is one pure, jitted function.

The step takes everything it reads and returns everything it changes:
``params, opt_state, loss = step(params, opt_state, x, y, key)``. ``params`` is a
plain nested dict of arrays (``nnx.to_pure_dict`` of the model's parameters), the
module structure (``graphdef``) is closed over, and ``key`` is the dropout key for
this step. ``jax.jit`` compiles it once per batch shape.

Why not ``nnx.jit`` over the module and an ``nnx.Optimizer``? It is the shortest
code, but on every call it walks the module graph in Python to split and merge the
state, which for a model this small costs more than the step itself (measured by
``mingpt-lite bench jax_generate --train``; :func:`make_nnx_train_step`
is that version).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from flax import nnx
from tqdm import tqdm

from ..config import DECAY_RULES
from ..loss import IGNORE_INDEX
from .generate import generate_cached
from .model import GPT



def split_params(model: GPT):
    """``(graphdef, params)``: the module's structure, and its parameters as a plain nested dict.

    ``nnx.merge(graphdef, params)`` rebuilds an equivalent module (cheap: no copies).
    """
    graphdef, state = nnx.split(model, nnx.Param)
    return graphdef, nnx.to_pure_dict(state)


def load_params(model: GPT, params) -> None:
    """Put a pure-dict ``params`` tree (as :func:`split_params` returns) into ``model``, in place."""
    state = nnx.state(model, nnx.Param)
    nnx.replace_by_pure_dict(state, params)
    nnx.update(model, state)


def decay_mask(model: GPT, rule: str = "mingpt"):
    """A nested dict of bools shaped like ``split_params(model)[1]``: True where AdamW decays.

    ``rule="mingpt"`` is the PyTorch package's rule, by module type: decay the kernels
    of Linear layers (residual projections and the head included); not biases,
    LayerNorm parameters or Embed tables. ``rule="dim"``: decay every parameter with
    two or more dimensions (nanoGPT). A tied head is the embedding table: not decayed.
    """
    if rule not in DECAY_RULES:
        raise ValueError(f"rule must be one of {DECAY_RULES}, got {rule!r}")
    linear_kernels = {
        (*path, "kernel") for path, module in nnx.iter_modules(model) if isinstance(module, nnx.Linear)
    }
    _, params = split_params(model)

    def decays(key_path, leaf):
        path = tuple(k.key for k in key_path)
        if rule == "dim":
            return leaf.ndim >= 2
        return path in linear_kernels

    return jax.tree_util.tree_map_with_path(decays, params)


def _plain_path(key_path) -> tuple:
    """A pytree key path as plain names, ignoring Flax's ``.value`` attribute step
    (``nnx.State`` trees end each path with it, pure dicts do not)."""
    parts = []
    for k in key_path:
        if isinstance(k, jax.tree_util.DictKey):
            parts.append(k.key)
        elif isinstance(k, jax.tree_util.SequenceKey):
            parts.append(k.idx)
        elif isinstance(k, jax.tree_util.GetAttrKey) and k.name != "value":
            parts.append(k.name)
    return tuple(parts)


def decay_mask_fn(model: GPT, rule: str = "mingpt"):
    """:func:`decay_mask` as a function of a parameter tree, for optimizers that do not
    see the pure dict: optax calls it with whatever tree it is given (an ``nnx.State``
    of Variables inside ``nnx.Optimizer``, whose paths end in ``.value`` at init but
    not at update) and it answers by parameter path."""
    flat, _ = jax.tree_util.tree_flatten_with_path(decay_mask(model, rule))
    decayed = {_plain_path(path) for path, decays in flat if decays}
    return lambda tree: jax.tree_util.tree_map_with_path(lambda kp, _: _plain_path(kp) in decayed, tree)


def adamw(
    mask,
    lr: float = 5e-4,
    weight_decay: float = 0.1,
    betas: tuple[float, float] = (0.9, 0.95),
    grad_clip: float | None = 1.0,
) -> optax.GradientTransformation:
    """minGPT's optimizer in optax: clip the global gradient norm, then AdamW with
    weight decay only where ``mask`` (see :func:`decay_mask`) is True."""
    steps = [optax.adamw(lr, b1=betas[0], b2=betas[1], eps=1e-8, weight_decay=weight_decay, mask=mask)]
    if grad_clip is not None:
        steps.insert(0, optax.clip_by_global_norm(grad_clip))
    return optax.chain(*steps)


def lm_loss(logits, targets):
    """Mean cross entropy of ``logits`` (B, T, V) against ``targets`` (B, T); targets of
    -1 are ignored, as in ``mingpt_lite.loss.lm_loss``."""
    if logits.ndim != 3 or targets.shape != logits.shape[:2]:
        raise ValueError(
            f"expected logits (B, T, V) and targets (B, T), got {logits.shape} and {targets.shape}"
        )
    valid = targets != IGNORE_INDEX
    safe_targets = jnp.where(valid, targets, 0)  # any valid id; masked out below
    nll = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), safe_targets)
    return jnp.sum(nll * valid) / jnp.maximum(jnp.sum(valid), 1)


def make_train_step(graphdef, tx: optax.GradientTransformation):
    """A jitted ``step(params, opt_state, x, y, key) -> (params, opt_state, loss)``.

    ``key=None`` trains without dropout. Each call builds a fresh jitted function, so
    it compiles on first use.
    """

    def loss_fn(params, x, y, key):
        model = nnx.merge(graphdef, params)
        return lm_loss(model(x, dropout_key=key), y)

    def step(params, opt_state, x, y, key):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y, key)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    # No buffer donation: the inputs stay valid, so the step is a pure function a caller
    # may repeat or undo (for a model this small the saved copies do not matter).
    return jax.jit(step)


def make_nnx_train_step(model: GPT, tx: optax.GradientTransformation):
    """The same step written the Flax NNX way, for comparison: ``nnx.jit`` over the module
    and an ``nnx.Optimizer``. Returns ``(step, optimizer)``; ``step(model, optimizer, x, y,
    key) -> loss`` updates both in place. Shortest code, but each call walks the module
    graph in Python (see the module docstring). ``tx`` must use :func:`decay_mask_fn`."""
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer, x, y, key):
        def loss_fn(model):
            return lm_loss(model(x, dropout_key=key), y)

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    return step, optimizer


def train_sort(
    model: GPT,
    task,
    steps: int,
    batch_size: int = 64,
    lr: float = 5e-4,
    weight_decay: float = 0.1,
    seed: int = 0,
    log_every: int = 100,
    eval_every: int | None = None,
    stop_at_accuracy: float | None = None,
    progress: bool = True,
):
    """Train ``model`` on ``task`` (a ``mingpt_lite.data.SortTask``) with minGPT's demo
    settings; returns ``(params, history)`` and leaves the trained weights in ``model``.

    Batches come from the task's own sampler (a seeded ``torch.Generator``), converted
    to numpy: the split and the sampling rule are the PyTorch chapters' exactly.
    ``history`` has ``losses`` (step, loss) every ``log_every`` steps, ``accuracy``
    (step, train, test) every ``eval_every`` steps (over every distinct problem of each
    split, by greedy generation), ``steps`` run, and ``seconds``
    (including compilation). With ``stop_at_accuracy``, training stops at the first
    evaluation where train and test accuracy both reach it.
    """
    graphdef, params = split_params(model)
    tx = adamw(decay_mask(model), lr=lr, weight_decay=weight_decay)
    opt_state = jax.jit(tx.init)(params)  # one program, not one small eager program per shape
    step_fn = make_train_step(graphdef, tx)
    generator = torch.Generator().manual_seed(seed)
    key = jax.random.key(seed)
    use_dropout = model.config.dropout > 0
    history = {"losses": [], "accuracy": [], "steps": 0, "seconds": 0.0}
    if eval_every:  # every distinct problem, both splits in one batch: one decode program
        problems = task.all_problems()
        is_test = task.is_test(problems).numpy()
        problems = problems.numpy()
    start = time.perf_counter()
    bar = tqdm(range(1, steps + 1), disable=not progress, desc="train (jax)")
    try:
        for it in bar:
            x, y = task.get_batch("train", batch_size, generator)
            step_key = jax.random.fold_in(key, it) if use_dropout else None
            x, y = x.numpy().astype(np.int32), y.numpy().astype(np.int32)
            params, opt_state, loss = step_fn(params, opt_state, x, y, step_key)
            history["steps"] = it
            if it % log_every == 0 or it == 1:
                history["losses"].append((it, float(loss)))
                bar.set_postfix(loss=f"{float(loss):.4f}")
            if eval_every and it % eval_every == 0:
                load_params(model, params)
                solved = sort_solved(model, task, problems)
                train_acc, test_acc = float(solved[~is_test].mean()), float(solved[is_test].mean())
                history["accuracy"].append((it, train_acc, test_acc))
                if stop_at_accuracy is not None and min(train_acc, test_acc) >= stop_at_accuracy:
                    break
    finally:  # an interruption keeps the weights trained so far
        bar.close()
        load_params(model, params)
        history["seconds"] = time.perf_counter() - start
    return params, history


def sort_solved(model: GPT, task, problems) -> np.ndarray:
    """Boolean (N,): whether greedy generation sorts each of ``problems`` (N, length),
    using the KV-cache decoder (one compiled program per batch shape)."""
    digits = np.asarray(problems)
    if digits.ndim != 2 or digits.shape[1] != task.length or digits.shape[0] == 0:
        raise ValueError(f"problems must be a non-empty (N, {task.length}) array, got {digits.shape}")
    out, _ = generate_cached(model, digits, task.length, return_logits=False)
    answers = np.asarray(out)[:, task.length :]
    return np.all(answers == np.sort(digits, axis=1), axis=1)


def evaluate_sort(model: GPT, task, problems) -> float:
    """Fraction of ``problems`` (N, length) the model sorts exactly by greedy generation
    (as ``mingpt_lite.data.sort_accuracy`` scores the PyTorch model)."""
    return float(np.mean(sort_solved(model, task, problems)))
