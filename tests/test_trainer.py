"""Tests for the Trainer: determinism, callbacks, schedule, evaluation, checkpoint/resume, NaN stop."""

import math
import os
import signal

import pytest
import torch

from mingpt_lite import GPT, GPTConfig
from mingpt_lite.data import CharDataset, SortTask
from mingpt_lite.trainer import EVENTS, NonFiniteLossError, Trainer, TrainerConfig, learning_rate_at
from mingpt_lite.training_state import FORMAT, TrainingStateError, atomic_save, load_state


# Tiny models: one thread (the fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


TASK = SortTask(length=4, num_digits=3)


def tiny_model(seed=0, vocab=3, block=7, dropout=0.1):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab, block_size=block, n_layer=1, n_head=2, n_embd=16, dropout=dropout))


def config(**overrides):
    base = dict(
        max_iters=20, batch_size=16, learning_rate=3e-3, progress=False, device="cpu",
        log_interval=4, seed=11, lr_schedule="cosine", warmup_iters=3,
    )
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


def test_stop_from_a_callback():
    trainer = Trainer(tiny_model(), TASK, config())
    trainer.add_callback("on_batch_end", lambda t: t.stop() if t.iter_num == 5 else None)
    trainer.train()
    assert trainer.iter_num == 6 and len(trainer.losses) == 6


def test_learning_rate_schedule():
    c = TrainerConfig(max_iters=100, learning_rate=1.0, min_lr=0.1, warmup_iters=10, lr_schedule="cosine")
    lrs = [learning_rate_at(c, i) for i in range(101)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(lrs[:9], lrs[1:10]))  # rising during warmup
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))  # then never rising
    assert lrs[55] == pytest.approx(0.55) and lrs[100] == pytest.approx(0.1)
    linear = TrainerConfig(max_iters=100, learning_rate=1.0, min_lr=0.1, warmup_iters=10, lr_schedule="linear")
    lrs = [learning_rate_at(linear, i) for i in range(101)]
    assert lrs[9] == pytest.approx(1.0) and lrs[55] == pytest.approx(0.55) and lrs[100] == pytest.approx(0.1)
    assert lrs[32] - lrs[33] == pytest.approx(0.9 / 90) == pytest.approx(lrs[80] - lrs[81])  # a straight line
    constant = TrainerConfig(learning_rate=0.5)
    assert {learning_rate_at(constant, i) for i in (0, 10, 1999)} == {0.5}


def test_trainer_sets_the_learning_rate_it_reports():
    trainer = Trainer(tiny_model(), TASK, config(max_iters=5))
    used = []
    trainer.add_callback("on_batch_end", lambda t: used.append(t.optimizer.param_groups[0]["lr"]))
    trainer.train()
    assert used == [trainer.lr_at(i) for i in range(5)]


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
        Trainer(tiny_model(vocab=2), TASK, config())
    with pytest.raises(ValueError, match="block_size"):
        Trainer(tiny_model(block=5), TASK, config())


def test_char_dataset_trains():
    data = CharDataset("the quick brown fox jumps over the lazy dog. " * 30, block_size=8)
    model = tiny_model(vocab=data.vocab_size, block=8)
    trainer = Trainer(model, data, config(max_iters=6, eval_interval=6, eval_iters=1)).train()
    assert set(trainer.evaluations[-1]) == {"iter", "train_loss", "val_loss"}


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
    resumed.train()
    assert resumed.losses == whole.losses
    for p, q in zip(whole.model.parameters(), resumed.model.parameters()):
        assert torch.equal(p, q)


def test_interrupt_saves_and_resumes(tmp_path):
    path = tmp_path / "run.pt"
    whole = Trainer(tiny_model(), TASK, config()).train()
    trainer = Trainer(tiny_model(), TASK, config(checkpoint_path=str(path)))
    trainer.add_callback("on_batch_end", lambda t: os.kill(os.getpid(), signal.SIGINT) if t.iter_num == 6 else None)
    # What SIGINT did before: Python's default_int_handler, or SIG_IGN when pytest runs as a
    # background job of a non-interactive shell (which starts it with SIGINT ignored).
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt, match="after iteration 7"):
        trainer.train()
    assert signal.getsignal(signal.SIGINT) is before  # handler restored
    resumed = Trainer.resume(path, tiny_model(seed=3), TASK).train()
    assert resumed.losses == whole.losses


def test_non_finite_loss_stops_with_iteration_and_keeps_last_checkpoint(tmp_path):
    path = tmp_path / "run.pt"
    trainer = Trainer(tiny_model(), TASK, config(checkpoint_path=str(path), checkpoint_interval=4))

    def poison(t):
        if t.iter_num == 6:  # after step 6's backward: the update makes every later loss NaN
            with torch.no_grad():
                t.model.lm_head.weight.fill_(float("nan"))

    trainer.add_callback("on_after_backward", poison)
    with pytest.raises(NonFiniteLossError, match=r"nan at iteration 7.*iteration 4.*run\.pt"):
        trainer.train()
    saved = load_state(path)
    assert saved["iter_num"] == 4
    assert all(torch.isfinite(t).all() for t in saved["model"].values())
    assert trainer.losses == saved["losses"] + trainer.losses[4:7] and len(trainer.losses) == 7


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "state.pt"
    atomic_save({"value": torch.tensor([1.0])}, path)

    def broken_save(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        atomic_save({"value": torch.tensor([2.0])}, path)
    monkeypatch.undo()
    assert load_state(path)["value"].item() == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.pt"]  # no temporary left


class Payload:
    pass


def test_loading_refuses_pickled_objects_and_foreign_files(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "x": Payload()}, evil)
    with pytest.raises(TrainingStateError, match="cannot read"):
        load_state(evil)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(TrainingStateError, match="not a mingpt_lite training checkpoint"):
        load_state(other)
    with pytest.raises(FileNotFoundError):
        load_state(tmp_path / "missing.pt")


def test_resume_into_a_different_model_is_refused(tmp_path):
    path = tmp_path / "run.pt"
    Trainer(tiny_model(), TASK, config(max_iters=2, checkpoint_path=str(path))).train()
    bigger = GPT(GPTConfig(vocab_size=3, block_size=7, n_layer=2, n_head=2, n_embd=16))
    with pytest.raises(TrainingStateError, match="different model config"):
        Trainer.resume(path, bigger, TASK)


def test_config_validation():
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainerConfig(lr_schedule="exponential")
    with pytest.raises(ValueError, match="batch_size"):
        TrainerConfig(batch_size=0)
    with pytest.raises(ValueError, match="min_lr"):
        TrainerConfig(learning_rate=1e-3, min_lr=1e-2)
