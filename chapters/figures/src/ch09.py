"""Chapter 09's diagram: Tiny Shakespeare as character ids, the split (last 10% held out, as
nanoGPT cuts it), and one training window: x the first T characters, y the same shifted by one."""

from __future__ import annotations

from draw import COLORS, arrow, box, label, matrix, canvas

WINDOW = "First Citizen"   # the text's first characters; a window of T = 12 plus one
T = 12


def char_windows():
    fig, ax = canvas(21.5, 11.0, scale=0.5)
    label(ax, 10.0, 10.5, "Tiny Shakespeare as a character stream, and one training window (T = 12 here, 64 in the chapter)",
          fontsize=10)
    # the whole text as a bar: 90% train, 10% validation
    box(ax, 1.0, 8.4, 16.2, 1.0, "train: first 90% (1,003,854 characters)", color="data", rounded=False, fontsize=9)
    box(ax, 17.2, 8.4, 1.8, 1.0, "val", color="new", rounded=False, fontsize=9)
    label(ax, 18.1, 7.9, "last 10%\n(111,540)", fontsize=8)
    label(ax, 1.0, 7.9, "character 0", ha="left", fontsize=8)
    arrow(ax, (3.5, 8.4), (3.5, 6.7), "a random start", fontsize=8, text_offset=(1.6, 0.0))
    # the window: T + 1 characters with their ids
    chars = [c if c != " " else "␣" for c in WINDOW]
    x0 = 3.0
    matrix(ax, x0, 6.6, values=[chars],
           colors=[["data"] * (T + 1)], fontsize=9)
    label(ax, x0 - 0.2, 6.1, "T + 1 chars", ha="right", fontsize=8)
    label(ax, x0 + T + 1.3, 6.1, "vocabulary: the 65 distinct characters,\nid i = chars[i] (sorted)",
          ha="left", fontsize=8)
    matrix(ax, x0, 4.8, values=[chars[:-1]], colors=[["data"] * T], fontsize=9)
    label(ax, x0 - 0.2, 4.3, "x", ha="right", fontsize=10)
    matrix(ax, x0 + 1.0, 3.0, values=[chars[1:]], colors=[["new"] * T], fontsize=9)
    label(ax, x0 + 0.8, 2.5, "y", ha="right", fontsize=10)
    for t in range(T):
        arrow(ax, (x0 + t + 0.5, 3.8), (x0 + t + 1.5, 3.0), linewidth=0.8, color=COLORS["ignored"])
    label(ax, x0 + T + 1.3, 4.3, "x = window[:-1]: what the model reads", ha="left", fontsize=8)
    label(ax, x0 + T + 2.3, 2.5, "y = window[1:]: the next character\nat every position", ha="left", fontsize=8)
    label(ax, 10.0, 0.9, "a batch stacks B = 32 such windows: x and y are (B, T) = (32, 64) token ids; "
          "the loss is the mean over all B·T predictions", fontsize=8)
    return fig


FIGURES = {"09_char_windows.svg": char_windows}
