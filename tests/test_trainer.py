"""Tests for mingpt_lite.trainer: determinism, events and their order, evaluation, precision,
checkpoint/resume (bit-identical, across devices), and the config's checks.

The features around the loop (divergence guard, checkpoint rotation, signals, time budget,
solve watcher) are tested in test_callbacks.py; the schedule in test_schedule.py.
"""

import math

import pytest
import torch

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.callbacks import Callback
from mingpt_lite.data import CharDataset, SortTask
from mingpt_lite.optim import configure_muon
from mingpt_lite.runstate import TrainingStateError, atomic_save, load_state
from mingpt_lite.schedule import Schedule
from mingpt_lite.trainer import EVENTS, NonFiniteLossError, Trainer, TrainerConfig, autocast_dtype

# Tiny models: one thread (the fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")

TASK = SortTask(length=4, num_digits=3)


def tiny_model(seed=0, dropout=0.1, **overrides):
    torch.manual_seed(seed)
    fields = dict(vocab_size=3, block_size=7, n_layer=1, n_head=2, n_embd=16, dropout=dropout)
    fields.update(overrides)
    return GPT(GPTConfig(**fields))


def config(**overrides):
    base = dict(max_iters=20, batch_size=16, learning_rate=3e-3, progress=False, device="cpu",
                log_interval=4, seed=11, lr_schedule="cosine", warmup_iters=3)
    base.update(overrides)
    return TrainerConfig(**base)


def test_same_seed_same_losses_and_a_different_seed_differs():
    a = Trainer(tiny_model(), TASK, config()).train()
    b = Trainer(tiny_model(), TASK, config()).train()
    c = Trainer(tiny_model(), TASK, config(seed=12)).train()
    assert len(a.losses) == 20 and a.iter_num == 20
    assert a.losses == b.losses
    assert a.losses != c.losses
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)


def test_training_learns_the_sort_task(device):
    trainer = Trainer(tiny_model(dropout=0.0), TASK,
                      config(max_iters=120, learning_rate=1e-2, batch_size=32, device=str(device)))
    trainer.train()
    first, last = trainer.losses[0], sum(trainer.losses[-10:]) / 10
    assert abs(first - math.log(3)) < 0.3  # an untrained model is about uniform
    assert last < 0.5 * first


def test_callbacks_fire_in_order_and_can_be_removed():
    trainer = Trainer(tiny_model(), TASK, config(max_iters=8, eval_interval=4))
    seen = []
    on_batch = trainer.add_callback("on_batch_end", lambda t: seen.append(("batch", t.iter_num)))
    trainer.add_callback("on_after_backward", lambda t: seen.append(("grad", t.model.lm_head.weight.grad is not None)))
    trainer.add_callback("on_eval", lambda t: seen.append(("eval", t.evaluations[-1]["iter"])))
    trainer.add_callback("on_log", lambda t: seen.append(("log", len(t.losses))))
    trainer.add_callback("on_train_end", lambda t: seen.append(("end", t.iter_num)))
    trainer.train(max_iters=4)
    assert seen == [
        ("grad", True), ("batch", 0), ("grad", True), ("batch", 1), ("grad", True), ("batch", 2),
        ("grad", True), ("batch", 3), ("log", 4), ("eval", 4), ("end", 4),
    ]
    trainer.remove_callback("on_batch_end", on_batch)
    seen.clear()
    trainer.train()  # continues to config.max_iters
    assert ("batch", 4) not in seen and ("end", 8) in seen
    with pytest.raises(ValueError, match="unknown event"):
        trainer.add_callback("on_step", print)
    with pytest.raises(ValueError, match="not registered"):
        trainer.remove_callback("on_batch_end", on_batch)
    assert "on_batch_end" in EVENTS and "on_eval" in EVENTS and "on_train_end" in EVENTS


class Recorder(Callback):
    """Writes down every hook the trainer calls, with the step count at that moment."""

    def __init__(self):
        self.seen = []

    def on_losses(self, trainer, losses, grad_norms):
        self.seen.append(("losses", trainer.iter_num, all(map(math.isfinite, losses + grad_norms))))

    def wants_sync(self, trainer):
        return False


for _hook in ("on_train_start", "on_batch_end", "on_log", "on_eval", "on_sync", "on_checkpoint", "on_train_end",
              "close"):
    setattr(Recorder, _hook, lambda self, trainer, _h=_hook: self.seen.append((_h, trainer.iter_num)))


def test_the_documented_order_of_events_and_a_nan_is_caught_before_anything_is_saved(tmp_path):
    path = tmp_path / "run.pt"
    trainer = Trainer(tiny_model(), TASK, config(max_iters=8, log_interval=4, eval_interval=4,
                                                 checkpoint_path=str(path), checkpoint_interval=4))
    recorder = trainer.install(Recorder())
    trainer.train(max_iters=4)
    sync = [e for e in recorder.seen if e[0] != "on_batch_end"]
    assert sync == [("on_train_start", 0), ("losses", 4, True), ("on_log", 4), ("on_eval", 4),
                    ("on_checkpoint", 4), ("on_sync", 4), ("on_train_end", 4), ("close", 4)]
    # (the Checkpointing callback's on_sync ran first, and saved: built-in callbacks come first)
    recorder.seen.clear()

    def poison(t):  # step 6's gradient turns NaN: the losses read at 8 hold it, the save due at 8 must not happen
        if t.iter_num == 6:
            t.model.lm_head.weight.grad.fill_(float("nan"))

    trainer.add_callback("on_after_backward", poison)
    with pytest.raises(NonFiniteLossError, match="iteration 6"):
        trainer.train()
    sync = [e for e in recorder.seen if e[0] != "on_batch_end"]
    # the guard raised in on_losses, before the recorder's own on_losses: no log, eval, save or end
    assert sync == [("on_train_start", 4), ("close", 8)]
    assert load_state(path)["iter_num"] == 4 and not (tmp_path / "run.diverged.pt").exists()


def test_stop_from_a_callback():
    trainer = Trainer(tiny_model(), TASK, config())
    trainer.add_callback("on_batch_end", lambda t: t.stop() if t.iter_num == 5 else None)
    trainer.train()
    assert trainer.iter_num == 6 and len(trainer.losses) == 6


def test_trainer_sets_the_learning_rate_of_its_schedule():
    trainer = Trainer(tiny_model(), TASK, config(max_iters=5))
    used = []
    trainer.add_callback("on_batch_end", lambda t: used.append(t.optimizer.param_groups[0]["lr"]))
    trainer.train()
    assert used == [trainer.lr_at(i) for i in range(5)] == [trainer.schedule(i) for i in range(5)]
    own = Schedule(1e-3, "linear", warmup_iters=2, max_iters=5, min_lr=1e-4)
    other = Trainer(tiny_model(), TASK, config(max_iters=5), schedule=own)
    other.add_callback("on_batch_end", lambda t: used.append(t.optimizer.param_groups[0]["lr"]))
    used.clear()
    other.train()
    assert used == [own(i) for i in range(5)] and used[-1] != trainer.lr_at(4)


def test_evaluation_is_recorded_and_does_not_change_training():
    plain = Trainer(tiny_model(), TASK, config()).train()
    evaluated = Trainer(tiny_model(), TASK, config(eval_interval=5, eval_iters=2)).train()
    assert plain.losses == evaluated.losses  # evaluation draws from its own generators
    assert [e["iter"] for e in evaluated.evaluations] == [5, 10, 15, 20]
    assert set(evaluated.evaluations[0]) == {"iter", "train_loss", "test_loss"}
    again = evaluated.evaluate()
    assert again["test_loss"] == evaluated.evaluations[-2]["test_loss"]  # same batches, same model
    assert evaluated.model.training


def test_data_that_does_not_fit_the_model_is_refused():
    with pytest.raises(ValueError, match="vocab_size"):
        Trainer(tiny_model(vocab_size=2), TASK, config())
    with pytest.raises(ValueError, match="block_size"):
        Trainer(tiny_model(block_size=5), TASK, config())


def test_char_dataset_trains():
    data = CharDataset("the quick brown fox jumps over the lazy dog. " * 30, block_size=8)
    model = tiny_model(vocab_size=data.vocab_size, block_size=8)
    trainer = Trainer(model, data, config(max_iters=6, eval_interval=6, eval_iters=1)).train()
    assert set(trainer.evaluations[-1]) == {"iter", "train_loss", "val_loss"}


def test_precision_auto_is_bf16_only_on_a_cuda_gpu_that_has_it(monkeypatch):
    cuda, cpu = torch.device("cuda", 0), torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)  # a T4 or V100
    assert autocast_dtype("auto", cuda) is None
    assert autocast_dtype("bf16", cuda) is torch.bfloat16  # asked for explicitly: as asked
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # an A100 or H100
    assert autocast_dtype("auto", cuda) is torch.bfloat16
    assert autocast_dtype("auto", cpu) is None and autocast_dtype("fp32", cuda) is None
    assert Trainer(tiny_model(), TASK, config(precision="auto")).dtype is None  # on the CPU


# --- checkpoints -------------------------------------------------------------------------------


def test_resumed_run_is_bit_identical(tmp_path):
    path = tmp_path / "run.pt"
    whole = Trainer(tiny_model(), TASK, config()).train()
    first = Trainer(tiny_model(), TASK, config(checkpoint_path=str(path)))
    first.train(max_iters=9)  # stop mid-way, between log intervals
    assert path.is_file() and first.last_checkpoint[0] == 9
    # a fresh process would start from a fresh model with other weights and RNG states
    torch.manual_seed(999)
    resumed = Trainer.resume(path, tiny_model(seed=5), TASK)
    assert resumed.iter_num == 9 and resumed.losses == whole.losses[:9]
    assert resumed.config_changes() == []
    resumed.train()
    assert resumed.losses == whole.losses
    for p, q in zip(whole.model.parameters(), resumed.model.parameters()):
        assert torch.equal(p, q)


def test_resume_into_a_different_model_is_refused(tmp_path):
    path = tmp_path / "run.pt"
    Trainer(tiny_model(), TASK, config(max_iters=2, checkpoint_path=str(path))).train()
    bigger = GPT(GPTConfig(vocab_size=3, block_size=7, n_layer=2, n_head=2, n_embd=16))
    with pytest.raises(TrainingStateError, match="different model config"):
        Trainer.resume(path, bigger, TASK)


def test_resuming_into_another_model_says_what_differs_in_one_line(tmp_path):
    path = tmp_path / "s.pt"
    Trainer(tiny_model(), TASK, config(max_iters=1, checkpoint_path=str(path))).train()
    with pytest.raises(TrainingStateError) as info:
        Trainer.resume(path, tiny_model(n_layer=2), TASK)
    assert "\n" not in str(info.value) and "n_layer 1 in the checkpoint vs 2 here" in str(info.value)


def test_resuming_on_another_device_type_says_so_in_one_line(tmp_path):
    # A CUDA generator's state is 16 bytes (seed and offset); a CPU one's is 5056 (Mersenne
    # Twister). The stand-in: a checkpoint whose batch generator state came from a GPU.
    path = tmp_path / "s.pt"
    Trainer(tiny_model(), TASK, config(max_iters=2, checkpoint_path=str(path))).train()
    state = load_state(path)
    del state["format"]
    state["device"], state["rng"]["data"] = "cuda", torch.zeros(16, dtype=torch.uint8)
    atomic_save(state, path)
    with pytest.raises(TrainingStateError) as info:
        Trainer.resume(path, tiny_model(), TASK)
    message = str(info.value)
    assert "\n" not in message and "ran on cuda" in message and "this trainer's on cpu" in message
    # A device type whose state happens to load is not a silent, harmless change either.
    state["rng"]["data"] = load_state(path)["rng"]["torch_cpu"]  # a CPU generator's state
    state["device"] = "mps"
    atomic_save(state, path)
    assert Trainer.resume(path, tiny_model(), TASK).config_changes() == [("device", "mps", "cpu")]






@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_divergence_checks_add_no_device_sync_to_a_gpu_step():
    trainer = Trainer(tiny_model(), TASK, config(device="cuda", log_interval=8, grad_clip=1.0))
    trainer._step()  # warm up: first-call allocations may synchronise
    torch.cuda.synchronize()
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode("error")  # any synchronising call in the step raises
    try:
        for _ in range(5):
            trainer._step()
    finally:
        torch.cuda.set_sync_debug_mode(previous)
    trainer.read_losses()  # the one read-back, where the checks run
    assert len(trainer.losses) == 6 and all(math.isfinite(v) for v in trainer.losses)


def test_a_run_trained_with_another_optimizer_resumes_only_with_that_optimizer(tmp_path):
    def muon(model):
        return configure_muon(model, 3e-3, 0.1, (0.9, 0.95))

    model = tiny_model(dropout=0.0)
    trainer = Trainer(model, TASK, config(max_iters=6), optimizer=muon(model)).train()
    path = trainer.save_checkpoint(tmp_path / "muon.pt")
    with pytest.raises(TrainingStateError) as info:  # into the config's AdamW: one line, saying what to do
        Trainer.resume(path, tiny_model(dropout=0.0), TASK)
    assert "\n" not in str(info.value) and "optimizer=" in str(info.value)
    fresh = tiny_model(dropout=0.0)
    resumed = Trainer.resume(path, fresh, TASK, optimizer=muon(fresh)).train(10)
    straight_model = tiny_model(dropout=0.0)
    straight = Trainer(straight_model, TASK, config(max_iters=6), optimizer=muon(straight_model)).train(10)
    assert resumed.losses == straight.losses  # and the resumed Muon run is the uninterrupted one
