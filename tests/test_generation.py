"""Tests for generation: the KV cache equals full recompute, sampling controls, bad input.

Tolerance for cached vs full logits: float32 with ``atol=1e-4, rtol=1e-4``. The two
ways compute the same sums in a different order (one query row against S cached
keys vs. a T x T causal block; a 1-row matmul vs. a T-row one), so the last bits
differ, and the large test weights below amplify that through the layers: measured
differences are up to ~1e-5 on logits up to ~5 (most with norm="notes-bug", which has
no residual path). A real cache bug moves the logits far more: feeding one step at the
wrong position changes them by ~1.8 (``test_tolerance_catches_a_wrong_position``
checks > 1e-2), so the tolerance cannot hide one.
"""


import pytest
import torch
from conftest import OPTIONS, tiny_config

import mingpt_lite.model as model_module
from mingpt_lite import GPT, GPTConfig
from mingpt_lite.generation import cached_logits, filter_logits, generate, sample_next

ATOL = RTOL = 1e-4


def tiny_model(seed=0, **overrides):
    """A small GPT with large random weights, so attention is sharp and logits are O(1).

    The standard init (std 0.02) gives near-uniform attention and logits near 0, on
    which a wrong cache could hide inside any tolerance.
    """
    fields = dict(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=16, dropout=0.0)
    fields.update(overrides)
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**fields))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, 0.4)
    return model.eval()


def naive_generate(model, idx, max_new_tokens):
    """minGPT's loop, written independently: crop to block_size, full forward, argmax, append."""
    block = model.config.block_size
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = model(idx[:, -block:])[:, -1]
            idx = torch.cat([idx, logits.argmax(-1, keepdim=True)], dim=1)
    return idx


def prompt(batch, length, vocab=11, seed=1):
    return torch.randint(vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


# --- cached logits equal a full forward ---------------------------------------------------

@pytest.mark.parametrize("attention", ["fast", "explicit"])
@pytest.mark.parametrize("norm", ["pre", "post", "notes-bug"])
@pytest.mark.parametrize("prefill", [1, 5, 15])
def test_cached_logits_equal_full_forward(attention, norm, prefill, device):
    model = tiny_model(attention=attention, norm=norm).to(device)
    idx = prompt(3, 16).to(device)  # batch > 1, the whole block
    with torch.no_grad():
        full = model(idx)
    stepwise = cached_logits(model, idx, prefill=prefill)
    assert full.abs().max() > 1.0  # logits big enough for the tolerance to mean something
    torch.testing.assert_close(stepwise, full, atol=ATOL, rtol=RTOL)


def test_cached_logits_single_token_and_fast_equals_explicit():
    fast = tiny_model(attention="fast")
    explicit = tiny_model(attention="explicit")
    explicit.load_state_dict(fast.state_dict())
    idx = prompt(2, 16)
    torch.testing.assert_close(cached_logits(fast, idx), cached_logits(explicit, idx), atol=ATOL, rtol=RTOL)
    one = idx[:, :1]  # a 1-token sequence: the prefill is everything
    torch.testing.assert_close(cached_logits(fast, one), fast(one), atol=ATOL, rtol=RTOL)


def test_tolerance_catches_a_wrong_position():
    """Negative control: feeding a step at the wrong position breaks the comparison."""
    model = tiny_model()
    idx = prompt(2, 10)
    with torch.no_grad():
        full = model(idx)
        cache = model.new_kv_cache(2)
        model(idx[:, :9], kv_cache=cache, pos=0)
        right = model(idx[:, 9:], kv_cache=cache, pos=9)[:, -1]
        wrong = model(idx[:, 9:], kv_cache=cache, pos=8)[:, -1]  # overwrites slot 8, sees 9 keys
    torch.testing.assert_close(right, full[:, -1], atol=ATOL, rtol=RTOL)
    assert (wrong - full[:, -1]).abs().max() > 1e-2


# --- greedy tokens are identical ----------------------------------------------------------

@pytest.mark.parametrize(
    "batch,prompt_len,new_tokens",
    [
        (1, 1, 15),  # 1-token prompt, ends exactly at block_size
        (4, 1, 15),  # batch > 1
        (3, 15, 1),  # prompt of block_size - 1
        (3, 15, 6),  # prompt of block_size - 1, then past it
        (2, 3, 40),  # starts cached, crosses block_size, goes on cropping
        (2, 16, 5),  # prompt of exactly block_size
        (2, 21, 5),  # prompt longer than block_size: only its last 16 tokens count
    ],
)
@pytest.mark.parametrize("attention", ["fast", "explicit"])
def test_greedy_tokens_identical(batch, prompt_len, new_tokens, attention, device):
    model = tiny_model(attention=attention).to(device)
    idx = prompt(batch, prompt_len).to(device)
    expected = naive_generate(model, idx, new_tokens)
    cached = generate(model, idx, new_tokens)
    recomputed = generate(model, idx, new_tokens, use_cache=False)
    assert cached.shape == (batch, prompt_len + new_tokens)
    assert torch.equal(cached[:, :prompt_len], idx)
    assert torch.equal(recomputed, expected)
    assert torch.equal(cached, expected)


def test_model_generate_delegates():
    model = tiny_model()
    idx = prompt(2, 3)
    assert torch.equal(model.generate(idx, 7), generate(model, idx, 7))


def test_zero_new_tokens_returns_a_copy_of_the_prompt():
    model = tiny_model()
    idx = prompt(2, 3)
    out = generate(model, idx, 0)
    assert torch.equal(out, idx) and out.data_ptr() != idx.data_ptr()


def forward_lengths(model, run):
    """The (T, pos) of every forward ``run`` makes."""
    calls = []
    handle = model.register_forward_pre_hook(
        lambda module, args, kwargs: calls.append((args[0].size(1), kwargs.get("pos", 0), kwargs.get("kv_cache") is not None)),
        with_kwargs=True,
    )
    try:
        run()
    finally:
        handle.remove()
    return calls


def test_one_prefill_then_one_position_per_step():
    model = tiny_model()
    allocations = []
    new_kv_cache = model.new_kv_cache
    model.new_kv_cache = lambda batch, max_len=None: allocations.append(max_len) or new_kv_cache(batch, max_len)
    calls = forward_lengths(model, lambda: generate(model, prompt(2, 4), 12))
    assert allocations == [15]  # one cache for the run: positions 0..14 (the last token is never fed)
    assert calls == [(4, 0, True)] + [(1, pos, True) for pos in range(4, 15)]


def test_past_block_size_the_cache_gives_way_to_cropping():
    model = tiny_model()  # block_size 16
    calls = forward_lengths(model, lambda: generate(model, prompt(1, 10), 10))
    # prefill 10, cached steps at positions 10..15, then full forwards over the last 16 tokens
    assert calls == [(10, 0, True)] + [(1, pos, True) for pos in range(10, 16)] + [(16, 0, False)] * 3


@pytest.mark.parametrize("use_cache", [True, False])
def test_generation_reads_the_ids_range_back_only_for_the_prompt(monkeypatch, use_cache):
    """Issue 26-L: reading the ids' min and max is a host sync off the CPU; the recompute path
    did two per token. The prompt is checked once; the ids fed back come from an argmax."""
    range_checks = []
    real = model_module.check_token_ids

    def recording(idx, config, check_range=True):
        range_checks.append(check_range)
        return real(idx, config, check_range)

    monkeypatch.setattr(model_module, "check_token_ids", recording)
    model = tiny_model()
    generate(model, prompt(2, 3), 20, use_cache=use_cache)
    assert len(range_checks) >= 20 and not any(range_checks)
    cached_logits(model, prompt(2, 8), prefill=2)
    assert not any(range_checks)


def test_without_cache_every_step_recomputes():
    model = tiny_model()
    calls = forward_lengths(model, lambda: generate(model, prompt(1, 2), 4, use_cache=False))
    assert calls == [(2, 0, False), (3, 0, False), (4, 0, False), (5, 0, False)]


# --- sampling -----------------------------------------------------------------------------

def test_sampling_is_reproducible_with_a_generator_and_leaves_the_global_rng_alone():
    model = tiny_model()
    idx = prompt(3, 2)
    state = torch.get_rng_state()
    runs = [
        generate(model, idx, 20, do_sample=True, generator=torch.Generator().manual_seed(seed), use_cache=cache)
        for seed, cache in [(7, True), (7, True), (7, False), (8, True)]
    ]
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(runs[0], runs[1])  # same seed, same tokens
    assert torch.equal(runs[0], runs[2])  # the cache draws the same tokens as recompute
    assert not torch.equal(runs[0], runs[3])  # another seed, other tokens


def test_sampling_follows_the_distribution():
    probs = torch.tensor([0.7, 0.2, 0.1])
    logits = probs.log().expand(4000, 3)
    draws = sample_next(logits, do_sample=True, generator=torch.Generator().manual_seed(0)).squeeze(1)
    freq = torch.bincount(draws, minlength=3) / draws.numel()
    assert torch.allclose(freq, probs, atol=0.03)
    # temperature 2 flattens: p ~ sqrt(p), renormalised
    flat = probs.sqrt() / probs.sqrt().sum()
    draws = sample_next(logits, do_sample=True, temperature=2.0, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(draws.squeeze(1), minlength=3) / draws.numel()
    assert torch.allclose(freq, flat, atol=0.03)


def test_greedy_is_argmax_and_cold_sampling_agrees():
    logits = torch.randn(5, 11, generator=torch.Generator().manual_seed(3))
    greedy = sample_next(logits)
    assert torch.equal(greedy.squeeze(1), logits.argmax(-1))
    cold = sample_next(logits, do_sample=True, temperature=1e-4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(cold, greedy)
    top1 = sample_next(logits, do_sample=True, top_k=1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(top1, greedy)


@pytest.mark.parametrize("temperature", [1e-7, 1e-30, 1e-300, 5e-324])
def test_a_temperature_too_small_to_divide_by_is_greedy(temperature):
    """Issue 28-9: logits / 1e-300 overflow to inf, inf - inf is NaN in the softmax and
    multinomial fails; such a temperature means the argmax."""
    logits = torch.randn(4, 11, generator=torch.Generator().manual_seed(5)) * 10
    draws = sample_next(logits, do_sample=True, temperature=temperature, generator=torch.Generator().manual_seed(0))
    assert torch.equal(draws.squeeze(1), logits.argmax(-1))
    model, idx = tiny_model(), prompt(2, 3)
    cold = generate(model, idx, 5, do_sample=True, temperature=temperature, generator=torch.Generator().manual_seed(0))
    assert torch.equal(cold, generate(model, idx, 5))


def test_top_k_is_clamped_to_the_vocabulary():
    model = tiny_model()  # vocab 11
    idx = prompt(2, 2)
    unlimited = generate(model, idx, 10, do_sample=True, generator=torch.Generator().manual_seed(1))
    clamped = generate(model, idx, 10, do_sample=True, top_k=1000, generator=torch.Generator().manual_seed(1))
    assert torch.equal(clamped, unlimited)


def test_top_k_keeps_the_k_largest():
    logits = torch.tensor([[1.0, 5.0, 3.0, 4.0, 2.0]])
    kept = filter_logits(logits, top_k=2).isfinite()
    assert kept.tolist() == [[False, True, False, True, False]]
    draws = sample_next(logits.expand(500, 5), do_sample=True, top_k=2, generator=torch.Generator().manual_seed(0))
    assert set(draws.flatten().tolist()) == {1, 3}


def test_top_p_keeps_the_smallest_set_reaching_the_mass():
    probs = torch.tensor([[0.05, 0.5, 0.15, 0.3]])
    logits = probs.log()

    def kept(top_p):
        return filter_logits(logits, top_p=top_p).isfinite().squeeze(0).nonzero().flatten().tolist()

    assert kept(0.1) == [1]  # the most probable token always stays
    assert kept(0.5) == [1]  # 0.5 alone reaches 0.5
    assert kept(0.7) == [1, 3]  # 0.5 + 0.3
    assert kept(0.81) == [1, 2, 3]  # 0.8 < 0.81, so 0.15 joins
    assert kept(1.0) == [0, 1, 2, 3]
    draws = sample_next(logits.expand(500, 4), do_sample=True, top_p=0.7, generator=torch.Generator().manual_seed(0))
    assert set(draws.flatten().tolist()) == {1, 3}
    # rows are filtered independently
    two_rows = torch.cat([logits, logits.flip(-1)])
    assert filter_logits(two_rows, top_p=0.7).isfinite().tolist() == [
        [False, True, False, True], [True, False, True, False]]


def test_top_p_depends_on_temperature():
    logits = torch.tensor([[2.0, 1.0, 0.0]])  # probs ~ 0.67, 0.24, 0.09
    gen = torch.Generator().manual_seed(0)
    cold = sample_next(logits.expand(300, 3), do_sample=True, temperature=0.5, top_p=0.8, generator=gen)
    hot = sample_next(logits.expand(300, 3), do_sample=True, temperature=3.0, top_p=0.8, generator=gen)
    assert set(cold.flatten().tolist()) == {0}  # sharpened: token 0 alone holds >= 0.8
    assert set(hot.flatten().tolist()) == {0, 1, 2}  # flattened: all three are needed


# --- model state and grad modes -----------------------------------------------------------

def test_train_eval_state_is_restored_and_dropout_is_off():
    model = tiny_model(dropout=0.5).train()
    idx = prompt(2, 3)
    first = generate(model, idx, 12)
    assert model.training and all(m.training for m in model.modules())
    assert torch.equal(generate(model, idx, 12), first)  # dropout at 0.5 would change the tokens
    assert torch.equal(generate(model, idx, 12, use_cache=False), first)
    # a mixed state comes back as it was, module by module
    model.eval()
    model.blocks[0].attn.attn_dropout.train()
    generate(model, idx, 3)
    assert [m.training for m in model.modules()].count(True) == 1
    assert model.blocks[0].attn.attn_dropout.training


@pytest.mark.parametrize("mode", [torch.no_grad, torch.inference_mode, torch.enable_grad])
def test_works_under_any_grad_mode(mode):
    model = tiny_model()
    idx = prompt(2, 3)
    expected = naive_generate(model, idx, 5)
    with mode():
        out = generate(model, idx, 5)
    assert torch.equal(out, expected)


def test_output_can_feed_a_training_step():
    model = tiny_model().train()
    out = generate(model, prompt(2, 3), 5)
    loss = model(out[:, :-1]).logsumexp(-1).mean()  # an inference-mode tensor would fail here
    loss.backward()
    assert model.token_embedding.weight.grad is not None


# --- bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "idx,kwargs,error,match",
    [
        (torch.zeros(2, 0, dtype=torch.long), {}, ValueError, "empty"),
        (torch.zeros(0, 3, dtype=torch.long), {}, ValueError, "no sequences"),
        (torch.zeros(3, dtype=torch.long), {}, ValueError, r"\(batch, time\)"),
        (torch.zeros(2, 3), {}, TypeError, "integer tensor"),
        ([[1, 2, 3]], {}, TypeError, "torch.Tensor"),
        (torch.full((1, 3), 11), {}, ValueError, r"\[0, 11\)"),
        (torch.tensor([[-1] + [0] * 20]), {}, ValueError, r"\[0, 11\)"),  # long prompt: checked whole
        (None, {"max_new_tokens": -1}, ValueError, "max_new_tokens must be >= 0"),
        (None, {"max_new_tokens": 2.5}, TypeError, "max_new_tokens must be an integer"),
        (None, {"do_sample": True, "temperature": 0.0}, ValueError, "do_sample=False"),
        (None, {"do_sample": True, "temperature": -1.0}, ValueError, "temperature"),
        (None, {"temperature": float("nan")}, ValueError, "temperature must be positive"),
        (None, {"temperature": "hot"}, TypeError, "temperature must be a number"),
        (None, {"do_sample": True, "top_p": 0.0}, ValueError, r"top_p must be in \(0, 1\]"),
        (None, {"do_sample": True, "top_p": 1.5}, ValueError, r"top_p must be in \(0, 1\]"),
        (None, {"do_sample": True, "top_p": float("nan")}, ValueError, r"top_p must be in \(0, 1\]"),
        (None, {"do_sample": True, "top_k": 0}, ValueError, "top_k must be at least 1"),
        (None, {"do_sample": True, "top_k": 2.0}, TypeError, "top_k"),
        (None, {"do_sample": True, "generator": 3}, TypeError, "torch.Generator"),
        (None, {"use_cache": "yes"}, TypeError, "use_cache"),
    ],
)
def test_bad_input_is_a_clear_error(idx, kwargs, error, match):
    model = tiny_model()
    idx = prompt(1, 3) if idx is None else idx
    kwargs = dict(kwargs)
    max_new_tokens = kwargs.pop("max_new_tokens", 4)
    with pytest.raises(error, match=match):
        generate(model, idx, max_new_tokens, **kwargs)


def test_sample_next_and_cached_logits_check_their_input():
    with pytest.raises(ValueError, match=r"\(batch, vocab_size\)"):
        sample_next(torch.zeros(2, 3, 5))
    with pytest.raises(ValueError, match="top_p"):
        filter_logits(torch.zeros(2, 5), top_p=0.0)
    model = tiny_model()
    with pytest.raises(ValueError, match="prefill"):
        cached_logits(model, prompt(1, 4), prefill=5)


def test_repeated_share_counts_windows_seen_before():
    from mingpt_lite.generation import repeated_share

    assert repeated_share("abcdefghij", n=3) == 0.0
    assert repeated_share("abababab", n=2) == pytest.approx(5 / 7)  # ab, ba, then every window again
    with pytest.raises(ValueError, match="no 10-character window"):
        repeated_share("short")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("name", OPTIONS)
@pytest.mark.parametrize("attention", ["fast", "explicit"])
def test_kv_cache_equals_full_recompute(name, attention):
    torch.manual_seed(0)
    model = GPT(tiny_config(attention=attention, **OPTIONS[name])).double()
    idx = torch.randint(0, 11, (2, 8))
    for prefill in (1, 3):
        torch.testing.assert_close(cached_logits(model, idx, prefill), model.eval()(idx), rtol=1e-9, atol=1e-9)
    prompt = idx[:, :2]
    torch.testing.assert_close(generate(model, prompt, 6), generate(model, prompt, 6, use_cache=False))

