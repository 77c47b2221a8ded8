"""AdamW with weight decay only where it makes sense, decided outside the model.

Weight decay pulls parameters toward zero. That is a useful prior for the big
matrices that mix features (Linear weights), but not for biases and LayerNorm
gains (scalars per channel, where zero is not a sensible default) nor for
embeddings (a lookup table whose rare rows would just shrink away).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .config import DECAY_RULES



def _decays(module: nn.Module, name: str, param: nn.Parameter, rule: str) -> bool:
    if rule == "dim":  # nanoGPT's rule: every matrix decays, every vector does not
        return param.dim() >= 2
    # minGPT's rule, by module type: only a Linear layer's weight decays.
    return isinstance(module, nn.Linear) and name == "weight"


def parameter_groups(model: nn.Module, weight_decay: float, rule: str = "mingpt") -> list[dict]:
    """Split ``model``'s parameters into a decayed and a non-decayed AdamW group.

    ``rule="mingpt"``: decay Linear weights; not biases, LayerNorm or Embedding weights.
    ``rule="dim"``: decay every parameter with two or more dimensions.
    A tensor shared by several modules (a tied head) appears once; if any of its
    owners says "no decay" (the embedding does), it is not decayed.
    """
    if rule not in DECAY_RULES:
        raise ValueError(f"rule must be one of {DECAY_RULES}, got {rule!r}")
    params: dict[int, nn.Parameter] = {}
    decide: dict[int, bool] = {}
    # remove_duplicate=False: see every owner of a shared tensor, not just the first.
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False, remove_duplicate=False):
            key = id(param)
            params[key] = param
            decide[key] = decide.get(key, True) and _decays(module, name, param, rule)
    decay = [p for k, p in params.items() if decide[k] and p.requires_grad]
    no_decay = [p for k, p in params.items() if not decide[k] and p.requires_grad]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def configure_adamw(
    model: nn.Module,
    lr: float = 5e-4,
    weight_decay: float = 0.1,
    betas: tuple[float, float] = (0.9, 0.95),
    rule: str = "mingpt",
    fused: bool | None = None,
) -> torch.optim.AdamW:
    """AdamW over :func:`parameter_groups`; the fused kernel is used on CUDA unless ``fused=False``."""
    groups = parameter_groups(model, weight_decay, rule)
    if fused is None:
        fused = all(p.is_cuda for g in groups for p in g["params"])
    return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=fused or None)


# --- Muon: orthogonalised momentum for the hidden matrices ----------------------------------------


def newton_schulz_orthogonalize(g: torch.Tensor, steps: int = 5, eps: float = 1e-7) -> torch.Tensor:
    """An approximation of U V^T for G = U S V^T (every singular value pushed towards 1).

    Five steps of the quintic Newton-Schulz iteration with Keller Jordan's coefficients
    (https://kellerjordan.github.io/posts/muon/): cheap matrix products instead of an SVD.
    The singular values land roughly in [0.7, 1.2], which is all Muon needs. ``g`` may be
    one (m, n) matrix or a stack (..., m, n) of same-shaped matrices, each done on its own.
    """
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g / (g.norm(dim=(-2, -1), keepdim=True) + eps)  # spectral norm <= Frobenius norm = 1
    tall = x.size(-2) > x.size(-1)
    if tall:  # iterate on the wide orientation: X X^T is the smaller product
        x = x.mT
    for _ in range(steps):
        gram = x @ x.mT
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.mT if tall else x


class Muon(torch.optim.Optimizer):
    """Muon for 2-D weights, AdamW for everything else, in one optimizer (one ``lr`` per group).

    A group with ``muon=True`` takes SGD momentum (Nesterov) and replaces each update
    by its orthogonalised version (:func:`newton_schulz_orthogonalize`), scaled by
    ``sqrt(max(1, rows / cols))``; its learning rate is ``lr * lr_scale``. Other groups
    are plain AdamW. A schedule that sets every group's ``lr`` (as the Trainer does)
    therefore moves both together. Build it with :func:`configure_muon`.
    """

    def __init__(self, groups, lr: float = 1e-3, betas=(0.9, 0.95), eps: float = 1e-8, momentum: float = 0.95,
                 ns_dtype: torch.dtype | None = None):
        defaults = dict(lr=lr, betas=betas, eps=eps, momentum=momentum, weight_decay=0.0, muon=False, lr_scale=1.0)
        super().__init__(groups, defaults)
        # The dtype of the Newton-Schulz products (None: the parameters'). bfloat16 halves their
        # cost where the hardware has bf16 matrix units (as Keller Jordan's Muon does on GPUs),
        # and is slow where it does not.
        self.ns_dtype = ns_dtype

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            lr = group["lr"] * group["lr_scale"]
            if group["muon"]:
                self._muon_step(group, lr)
                continue
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if group["weight_decay"]:
                    p.mul_(1 - lr * group["weight_decay"])
                if not state:
                    state["step"] = 0
                    state["m"], state["v"] = torch.zeros_like(p), torch.zeros_like(p)
                beta1, beta2 = group["betas"]
                state["step"] += 1
                state["m"].lerp_(p.grad, 1 - beta1)
                state["v"].mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                m_hat = state["m"] / (1 - beta1 ** state["step"])
                v_hat = state["v"] / (1 - beta2 ** state["step"])
                p.addcdiv_(m_hat, v_hat.sqrt().add_(group["eps"]), value=-lr)
        return loss

    def _muon_step(self, group, lr: float) -> None:
        # Same-shaped matrices (every block's qkv, say) are orthogonalised as one stack: one
        # batched product per Newton-Schulz step instead of one per matrix.
        by_shape: dict[tuple, list] = {}
        for p in group["params"]:
            if p.grad is None:
                continue
            if group["weight_decay"]:
                p.mul_(1 - lr * group["weight_decay"])
            buf = self.state[p].setdefault("momentum", torch.zeros_like(p))
            buf.mul_(group["momentum"]).add_(p.grad)
            by_shape.setdefault(tuple(p.shape), []).append((p, p.grad.add(buf, alpha=group["momentum"])))  # Nesterov
        for (rows, cols), pairs in by_shape.items():
            stack = torch.stack([update for _, update in pairs])
            if self.ns_dtype is not None:
                stack = stack.to(self.ns_dtype)
            updates = newton_schulz_orthogonalize(stack).to(pairs[0][0].dtype)
            for (p, _), update in zip(pairs, updates):
                p.add_(update, alpha=-lr * max(1.0, rows / cols) ** 0.5)


def configure_muon(model: nn.Module, lr: float = 1e-3, weight_decay: float = 0.1, betas=(0.9, 0.95),
                   muon_lr_scale: float = 10.0, momentum: float = 0.95, ns_dtype: torch.dtype | None = None) -> Muon:
    """Muon on the blocks' 2-D weights; AdamW (``lr``) on embeddings, the head, norms and biases.

    The embedding and the head are matrices too, but their rows are per-token lookups
    and scores rather than maps between hidden features, so (as in Keller Jordan's
    and nanochat's recipes) they stay on AdamW. Muon's learning rate is
    ``lr * muon_lr_scale``; AdamW's decayed group is the ``"dim"`` rule's.
    """
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    head = getattr(model, "lm_head", None)
    if head is not None:
        embeddings.add(id(head.weight))
    seen, hidden, decay, no_decay = set(), [], [], []
    for p in model.parameters():
        if id(p) in seen or not p.requires_grad:
            continue
        seen.add(id(p))
        if p.dim() == 2 and id(p) not in embeddings:
            hidden.append(p)
        elif p.dim() >= 2:
            decay.append(p)
        else:
            no_decay.append(p)
    groups = [
        {"params": hidden, "muon": True, "lr_scale": muon_lr_scale, "weight_decay": 0.0},
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return Muon([g for g in groups if g["params"]], lr=lr, betas=betas, momentum=momentum, ns_dtype=ns_dtype)
