"""Writing and reading a whole training run's state, safely.

A training checkpoint is more than the weights: to continue a run exactly as if
it had never stopped, it also needs the optimizer's moment estimates, the
iteration number (which drives the learning-rate schedule), the loss history and
every random number generator's state (batches and dropout masks).

All of that goes into one ``torch.save`` file, so one rename switches from one
consistent snapshot to the next. The file holds only tensors, numbers, strings
and plain containers, and is read back with ``torch.load(weights_only=True)``,
which refuses anything else (an arbitrary pickle could run code on load). For
weights alone, to share or to load into a model, use the safetensors files of
:mod:`mingpt_lite.checkpoint` (``save_model`` / ``load_model``).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

import torch

FORMAT = "mingpt_lite.training_state/1"


class TrainingStateError(ValueError):
    """A training checkpoint is missing, of another format, or does not fit this run."""


def previous_path(path: str | os.PathLike) -> Path:
    """Where :func:`atomic_save` with ``keep_previous=True`` keeps the checkpoint it replaced.

    ``runs/sort/training_state.pt`` -> ``runs/sort/training_state.previous.pt``.
    """
    path = Path(path)
    return path.with_name(f"{path.stem}.previous{path.suffix}")


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err``, or any exception it was raised from or while handling, is ENOSPC.

    torch's writer reports a full disk as ``RuntimeError: [enforce fail at
    inline_container.cc] ... unexpected pos``, raised while handling the real
    ``OSError: [Errno 28] No space left on device``; so the whole chain is searched.
    """
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(err) or "Disk quota exceeded" in str(err):
            return True
        err = err.__cause__ or err.__context__
    return False


class DiskFullError(OSError):
    """A write failed because the disk (or the user's quota) is full; the message names the file."""

    def __init__(self, message: str):
        super().__init__(message)
        self.errno = errno.ENOSPC

    def __str__(self) -> str:
        return self.args[0]


def write_atomically(path: str | os.PathLike, write, *, keep_previous: bool = False) -> Path:
    """Create ``path`` by ``write(file)`` into a temporary file, fsync, and a rename.

    The rename is atomic on POSIX and Windows filesystems: a reader (or a crash)
    sees either the previous complete file or the new complete file, never half of one.
    The temporary file is ``.<name>.tmp-<pid>`` next to ``path``; it is removed if
    the write fails, and :func:`remove_stale_temporaries` removes one left by a
    process that was killed. With ``keep_previous``, the file being replaced stays
    available as :func:`previous_path` (a hard link, or a copy where links are not
    supported), so the last two versions survive. A full disk raises
    :class:`DiskFullError` naming ``path``. The new file gets the usual mode
    (0666 minus the umask, e.g. 0644).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        if keep_previous and path.is_file():
            _keep_copy(path, previous_path(path))
        os.replace(tmp, path)
    except Exception as err:
        if is_disk_full(err):
            kept = "the previous checkpoint is intact" if path.is_file() else "no earlier file was there"
            raise DiskFullError(f"no space left on device while writing {path}; {kept}") from err
        raise
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _keep_copy(path: Path, keep: Path) -> None:
    """Make ``keep`` a second name for (or a copy of) ``path``, atomically."""
    tmp = keep.with_name(f".{keep.name}.tmp-{os.getpid()}")
    if tmp.exists():
        tmp.unlink()
    try:
        os.link(path, tmp)  # no bytes copied; `path` is replaced by a new inode right after
    except OSError:
        shutil.copyfile(path, tmp)
    os.replace(tmp, keep)


def atomic_save(state: dict, path: str | os.PathLike, *, keep_previous: bool = False) -> Path:
    """``torch.save`` ``state`` to ``path`` via :func:`write_atomically` (temporary file, fsync, rename)."""
    return write_atomically(path, lambda f: torch.save({"format": FORMAT, **state}, f), keep_previous=keep_previous)


_TEMPORARY = re.compile(r"^\..+\.tmp-(\d+)$")


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that a killed writer left in ``folder``; returns them.

    Only files named like :func:`write_atomically`'s temporaries (``.<name>.tmp-<pid>``)
    whose process is no longer running (or is this one) are removed; a writer that is
    still alive keeps its file.
    """
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for file in folder.iterdir():
        match = _TEMPORARY.match(file.name)
        if not match or not file.is_file():
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and _process_alive(pid):
            continue
        try:
            file.unlink()
            removed.append(file)
        except FileNotFoundError:  # its writer just finished or cleaned up
            pass
    return removed


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill would terminate the process there; never guess
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except OSError:
        return False
    return True


def load_state(path: str | os.PathLike, map_location="cpu") -> dict:
    """Read a file written by :func:`atomic_save`, with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no training checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # a truncated file, or one holding arbitrary objects
        raise TrainingStateError(f"cannot read training checkpoint {path}: {err}") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise TrainingStateError(
            f"{path} is not a mingpt_lite training checkpoint (format {found!r}, expected {FORMAT!r}); "
            f"model-only weights are loaded with mingpt_lite.load_model"
        )
    return state


def rng_states(generators: dict[str, torch.Generator]) -> dict:
    """The states of torch's global CPU and CUDA generators plus the named ``generators``."""
    states = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["torch_cuda"] = torch.cuda.get_rng_state_all()
    for name, generator in generators.items():
        states[name] = generator.get_state()
    return states


def restore_rng_states(states: dict, generators: dict[str, torch.Generator]) -> None:
    """Undo :func:`rng_states`: put every saved generator state back."""
    torch.set_rng_state(states["torch_cpu"])
    if "torch_cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["torch_cuda"])
    for name, generator in generators.items():
        if name not in states:
            raise TrainingStateError(f"checkpoint has no state for the {name!r} generator")
        generator.set_state(states[name].cpu())
