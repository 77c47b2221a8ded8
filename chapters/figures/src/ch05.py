"""Chapter 05's diagram: the Trainer's loop, and where each callback event fires.

Sizes are the chapter's: gpt-nano on the sort task, batches of 64 sequences of 11 tokens,
2,000 steps, losses read back every 100 steps, a checkpoint every 500.
"""

from draw import COLORS, arrow, box, canvas, label

STEP_X, STEP_W = 2.2, 9.0          # the step's boxes (left column)
EVENT_X, EVENT_W = 13.4, 5.6       # the event pills (right column)
H = 0.8                            # box height


def _step(ax, y, text, color="neutral"):
    box(ax, STEP_X, y, STEP_W, H, text, color=color, fontsize=9)


def _event(ax, y, name, note=""):
    """An event pill at height y, with an arrow from the step column and an optional note."""
    box(ax, EVENT_X, y, EVENT_W, H, name, color="weights", fontsize=9.5, family="monospace")
    arrow(ax, (STEP_X + STEP_W, y + H / 2), (EVENT_X, y + H / 2), linestyle="--", color=COLORS["weights"])
    if note:
        label(ax, EVENT_X + EVENT_W + 0.25, y + H / 2, note, fontsize=8, ha="left")


def trainer_loop():
    fig, ax = canvas(26.5, 19.6)
    label(ax, 13.2, 19.1, "Trainer.train(): one step, repeated; callbacks fire on named events",
          fontsize=11.5, weight="bold")

    # entering train()
    _step(ax, 17.2, "trainer.train(max_iters=2000)", color="data")
    _event(ax, 17.2, "on_train_start")

    # the step: minGPT's six lines
    loop_top, loop_bottom = 16.3, 4.0
    box(ax, 1.6, loop_bottom, 10.2, loop_top - loop_bottom, "", color="white", linestyle=":", rounded=True)
    label(ax, 1.8, loop_top - 0.35, "one step", fontsize=8.5, ha="left",
          style="italic")
    rows = [
        (15.0, "x, y = get_batch('train'): (64, 11) each"),
        (13.9, "loss = lm_loss(model(x), y)"),
        (12.8, "loss.backward()"),
        (11.7, "clip_grad_norm_(params, 1.0)"),
        (10.6, "lr = schedule(iter_num); optimizer.step()"),
        (8.4, "iter_num += 1   (n = iter_num steps done)"),
    ]
    for y, text in rows:
        _step(ax, y, text)
    for (y0, _), (y1, _) in zip(rows, rows[1:]):
        if y0 - y1 < 1.5:
            arrow(ax, (STEP_X + STEP_W / 2, y0), (STEP_X + STEP_W / 2, y1 + H))
    arrow(ax, (STEP_X + STEP_W / 2, 10.6), (STEP_X + STEP_W / 2, 8.4 + H))
    arrow(ax, (STEP_X + STEP_W / 2, 17.2), (STEP_X + STEP_W / 2, 15.0 + H))

    _event(ax, 12.8, "on_after_backward", "gradients there, not yet clipped")
    # on_batch_end sits between the optimizer step and the counter
    box(ax, EVENT_X, 9.5, EVENT_W, H, "on_batch_end", color="weights", fontsize=9.5, family="monospace")
    arrow(ax, (STEP_X + STEP_W / 2 + 0.1, 9.9), (EVENT_X, 9.9), linestyle="--", color=COLORS["weights"])
    label(ax, EVENT_X + EVENT_W + 0.25, 9.9, "every step; iter_num = this\nstep's index (0 .. 1999)",
          fontsize=8, ha="left")

    # the periodic part: only every so often does the loop leave the device
    _step(ax, 7.0, "n % log_interval == 0 (100) or last step:\nread losses back, stop if NaN / inf", color="new")
    _event(ax, 7.0, "on_log", "trainer.losses now holds them")
    _step(ax, 5.9, "n % eval_interval == 0: evaluate()", color="new")
    _event(ax, 5.9, "on_eval", "trainer.evaluations[-1]")
    _step(ax, 4.8, "n % checkpoint_interval == 0 (500):\nsave_checkpoint()", color="new")
    _event(ax, 4.8, "on_checkpoint", "trainer.last_checkpoint")
    arrow(ax, (STEP_X + STEP_W / 2, 8.4), (STEP_X + STEP_W / 2, 7.0 + H))
    arrow(ax, (STEP_X + STEP_W / 2, 7.0), (STEP_X + STEP_W / 2, 5.9 + H))
    arrow(ax, (STEP_X + STEP_W / 2, 5.9), (STEP_X + STEP_W / 2, 4.8 + H))
    label(ax, STEP_X + STEP_W, 7.95, "tested every step, true now and then", fontsize=7.5, ha="right",
          style="italic")

    # back to the top of the loop
    arrow(ax, (STEP_X - 0.3, 5.2), (STEP_X - 0.3, 15.4), color=COLORS["residual"])
    label(ax, 0.9, 10.3, "next step, while iter_num < max_iters", fontsize=8, rotation=90,
          color=COLORS["residual"])

    # leaving train()
    _step(ax, 2.4, "after the last step: final checkpoint\n(if checkpoint_path is set)", color="data")
    arrow(ax, (STEP_X + STEP_W / 2, 4.8), (STEP_X + STEP_W / 2, 2.4 + H), text="iter_num == max_iters,\nor stop()",
          fontsize=8, text_offset=(0.0, 0.0))
    _event(ax, 2.4, "on_train_end", "not fired when train() raises")
    label(ax, EVENT_X, 0.8, "a callback is fn(trainer); it reads\niter_num, loss, losses, model, optimizer",
          fontsize=8, ha="left")
    label(ax, STEP_X, 0.8, "dashed arrows: trainer.trigger(event) calls every function added\n"
                        "with trainer.add_callback(event, fn), in the order they were added",
          fontsize=8, ha="left")
    return fig


FIGURES = {"05_trainer_loop.svg": trainer_loop}
