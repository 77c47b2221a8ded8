"""A training run's folder: its file names, one safe writer, one lock, and the resumable state.

A training checkpoint is more than the weights: to continue a run exactly as if
it had never stopped, it also needs the optimizer's moment estimates, the
iteration number (which drives the learning-rate schedule), the loss history and
every random number generator's state (batches and dropout masks).

All of that goes into one ``torch.save`` file, so one rename switches from one
consistent snapshot to the next. The file holds only tensors, numbers, strings
and plain containers, and is read back with ``torch.load(weights_only=True)``,
which refuses anything else (an arbitrary pickle could run code on load). For
weights alone, to share or to load into a model, use the safetensors files of
:mod:`mingpt_lite.modelfile` (``save_model`` / ``load_model``).

A run folder (the command line's ``--out``) holds the files named below, and
nothing in this module touches any other file there:

- ``model.safetensors``: the trained model (:mod:`mingpt_lite.modelfile`);
- ``training_state.pt``: everything needed to resume; the save before it is kept as
  ``training_state.previous.pt``, and a save made after a run went bad is set aside
  as ``training_state.diverged.pt``;
- ``data.json``: what the model was trained on;
- ``.mingpt-lite.lock``: present while a run holds the folder (:func:`run_lock`).

Every file is written by :func:`write_atomically`: into a temporary file of its own
(``.<name>.mingpt-tmp-<pid>-<random>``), flushed to disk, then renamed over the
target, so a crash leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import stat
import time
from pathlib import Path

import torch

try:
    import fcntl  # POSIX only: on Windows, run_lock does not lock (see exclusive_lock)
except ImportError:  # pragma: no cover - Windows
    fcntl = None

FORMAT = "mingpt_lite.training_state/1"

# --- the run folder's file names, defined once --------------------------------------------------

MODEL_FILE = "model.safetensors"
STATE_FILE = "training_state.pt"
DATA_FILE = "data.json"
LOCK_FILE = ".mingpt-lite.lock"


def previous_path(path: str | os.PathLike) -> Path:
    """Where :func:`write_atomically` with ``keep_previous=True`` keeps the file it replaced.

    ``runs/sort/training_state.pt`` -> ``runs/sort/training_state.previous.pt``.
    """
    path = Path(path)
    return path.with_name(f"{path.stem}.previous{path.suffix}")


def diverged_path(path: str | os.PathLike) -> Path:
    """Where a checkpoint saved after a run went bad is set aside (so resuming skips it).

    ``runs/sort/training_state.pt`` -> ``runs/sort/training_state.diverged.pt``.
    """
    path = Path(path)
    return path.with_name(f"{path.stem}.diverged{path.suffix}")


PREVIOUS_STATE_FILE = previous_path(STATE_FILE).name  # training_state.previous.pt
DIVERGED_STATE_FILE = diverged_path(STATE_FILE).name  # training_state.diverged.pt
# Every file a run writes into its folder (the lock file aside): what --overwrite removes,
# and the only targets whose temporary files the cleanup may delete.
RUN_FILES = (MODEL_FILE, STATE_FILE, PREVIOUS_STATE_FILE, DIVERGED_STATE_FILE, DATA_FILE)


class TrainingStateError(ValueError):
    """A training checkpoint is missing, of another format, or does not fit this run."""


# --- a full disk ----------------------------------------------------------------------------------


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


# --- the one atomic writer --------------------------------------------------------------------------

# A temporary file's name says whose it is: the target's name, this package's tag, the
# writing process and a random part (so no one can guess it and plant a link there first).
_TEMPORARY = re.compile(r"^\.(?P<target>.+)\.mingpt-tmp-(?P<pid>\d+)-[0-9a-f]{12}$")


def _temporary_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.mingpt-tmp-{os.getpid()}-{secrets.token_hex(6)}")


def _create_exclusive(target: Path) -> tuple[int, Path]:
    """A new, empty temporary file next to ``target``: ``(descriptor, path)``.

    O_EXCL|O_NOFOLLOW: the file is created by this call or the call fails, so a file or a
    symbolic link that someone placed at the name is never opened or followed. The mode
    0666 goes through the umask, as for any file a program creates (mkstemp would give 0600).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = _temporary_name(target)
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # 48 random bits collided, or someone planted this very name
            continue
    raise FileExistsError(f"cannot create a temporary file next to {target}: every name tried exists")


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (the folder's entry list is on disk too)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # e.g. Windows cannot open a folder; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems do not sync folders
        pass
    finally:
        os.close(fd)


def write_atomically(path: str | os.PathLike, write, *, keep_previous: bool = False) -> Path:
    """Create ``path`` by ``write(file)`` into a temporary file, fsync, and a rename; returns ``path``.

    The rename is atomic on POSIX and Windows filesystems: a reader (or a crash)
    sees either the previous complete file or the new complete file, never half of one.
    The temporary file (``.<name>.mingpt-tmp-<pid>-<random>``, next to ``path``) is
    created exclusively and never through a symbolic link; it is removed if the write
    fails, and :func:`remove_stale_temporaries` removes one left by a process that was
    killed. A symbolic link at ``path`` itself is replaced, not followed. With
    ``keep_previous``, the file being replaced stays available as :func:`previous_path`
    (a hard link, or a copy where links are not supported), so the last two versions
    survive. A full disk raises :class:`DiskFullError` naming ``path``. The new file
    gets the usual mode (0666 minus the umask, e.g. 0644).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_exclusive(path)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        if keep_previous and _is_regular_file(path):
            _keep_copy(path, previous_path(path))
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except Exception as err:
        if is_disk_full(err):
            kept = "the previous checkpoint is intact" if path.is_file() else "no earlier file was there"
            raise DiskFullError(f"no space left on device while writing {path}; {kept}") from err
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)  # only still there if something failed before the rename
    return path


def write_json_atomically(path: str | os.PathLike, obj, *, indent: int | None = 1) -> Path:
    """Write ``obj`` as UTF-8 JSON (plus a final newline) to ``path`` with :func:`write_atomically`."""
    text = json.dumps(obj, indent=indent, ensure_ascii=False) + "\n"
    return write_atomically(path, lambda f: f.write(text.encode("utf-8")))


def _is_regular_file(path: Path) -> bool:
    """A regular file at ``path`` itself (a symbolic link there does not count)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def _keep_copy(path: Path, keep: Path) -> None:
    """Make ``keep`` a second name for (or a copy of) ``path``, atomically."""
    tmp = _temporary_name(keep)  # os.link and O_EXCL both fail if anything is at that name
    try:
        try:
            os.link(path, tmp)  # no bytes copied; `path` is replaced by a new inode right after
        except OSError as err:
            if err.errno == errno.EEXIST:
                raise
            with open(os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)), "rb") as src:
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                with open(os.open(tmp, flags, 0o666), "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                    dst.flush()
                    os.fsync(dst.fileno())
        os.replace(tmp, keep)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def atomic_save(state: dict, path: str | os.PathLike, *, keep_previous: bool = False) -> Path:
    """``torch.save`` ``state`` to ``path`` via :func:`write_atomically` (temporary file, fsync, rename)."""
    return write_atomically(path, lambda f: torch.save({"format": FORMAT, **state}, f), keep_previous=keep_previous)


def remove_stale_temporaries(folder: str | os.PathLike, targets=RUN_FILES) -> list[Path]:
    """Delete the temporary files that a killed writer left in ``folder``; returns them.

    Only this module's own temporaries (``.<target>.mingpt-tmp-<pid>-<random>``) of the
    given ``targets`` (default: the run files, :data:`RUN_FILES`) are candidates, and of
    those only the ones whose process is no longer running (or is this one): a writer that
    is still alive keeps its file, and every other file in the folder is left alone.
    """
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    targets = set(targets)
    for file in folder.iterdir():
        match = _TEMPORARY.match(file.name)
        if not match or match.group("target") not in targets or not _is_regular_file(file):
            continue
        pid = int(match.group("pid"))
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


# --- one run per folder ---------------------------------------------------------------------------


class RunFolderError(RuntimeError):
    """A run folder cannot be used as asked; the message is one line saying why and what to do."""


class RunFolderLocked(RunFolderError):
    """Another process holds the folder's lock; the one-line message names its PID.

    Attributes:
        folder: the locked folder (or, for :func:`file_lock`, the file's).
        pid: the holder's process id, or None if it could not be read.
    """

    def __init__(self, message: str, folder: Path, pid: int | None):
        super().__init__(message)
        self.folder, self.pid = folder, pid


_held: dict[str, list] = {}  # lock path -> [descriptor, depth]: this process's locks


@contextlib.contextmanager
def exclusive_lock(lock_path: str | os.PathLike, *, wait: bool = False, what: str | None = None):
    """Hold an exclusive OS lock (``flock``) on ``lock_path`` inside the ``with`` block.

    Another process asking for the same lock gets :class:`RunFolderLocked` naming the
    holder's PID, or with ``wait`` blocks until it is free. The kernel drops the lock
    when its holder exits, however it exits, so a killed run never blocks the next one.
    Within one process the lock is re-entrant (the command line holds it and the
    Trainer's checkpointing may take it again). The lock file holds the holder's PID and
    is removed when the lock is released; a symbolic link at its name raises
    :class:`RunFolderError` instead of being followed. ``what`` names the locked thing in
    the message (default: the lock file's folder). On Windows (no ``flock``) nothing is locked.
    """
    lock_path = Path(lock_path)
    key = os.path.realpath(lock_path)
    if key in _held:
        _held[key][1] += 1
        try:
            yield lock_path
        finally:
            _held[key][1] -= 1
        return
    if fcntl is None:  # no flock on Windows: the folder is not locked there
        yield lock_path
        return
    fd = _acquire(lock_path, wait, what or str(lock_path.parent))
    _held[key] = [fd, 1]
    try:
        yield lock_path
    finally:
        del _held[key]
        with contextlib.suppress(OSError):
            os.unlink(lock_path)  # while still holding it: see _acquire for why this is safe
        os.close(fd)  # releases the lock


def run_lock(folder: str | os.PathLike, *, wait: bool = False):
    """:func:`exclusive_lock` on a run folder (its :data:`LOCK_FILE`), creating the folder.

    ``with run_lock("runs/sort"): ...`` around a whole run (training, resume, saving)
    makes a second run into the same folder fail at once with :class:`RunFolderLocked`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return exclusive_lock(folder / LOCK_FILE, wait=wait, what=str(folder))


def file_lock(path: str | os.PathLike, *, wait: bool = False):
    """:func:`exclusive_lock` for one file that several processes update (``.<name>.lock`` beside it).

    For a read-merge-write of a results file: ``with file_lock(path, wait=True): read, merge,
    write_json_atomically(path, merged)``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return exclusive_lock(path.with_name(f".{path.name}.lock"), wait=wait, what=str(path))


def _acquire(lock_path: Path, wait: bool, what: str) -> int:
    """Open, lock and stamp ``lock_path``; returns the descriptor that holds the lock."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    while True:
        try:
            fd = os.open(lock_path, flags, 0o666)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise RunFolderError(
                    f"{lock_path} is a symbolic link, which a lock file never is; remove it and run again") from None
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            pid = _holder(fd)
            os.close(fd)
            holder = f"process {pid}" if pid is not None else "another process"
            raise RunFolderLocked(
                f"{what} is in use by another run ({holder}, lock {lock_path.name}); "
                f"wait for it to finish, or use another folder", Path(what), pid) from None
        # The holder before us may have removed the file on release after we opened it: then
        # we hold a lock on a name no one else sees, and must lock the file that is there now.
        try:
            now = os.lstat(lock_path)
            mine = os.fstat(fd)
            same = (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino)
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)


def _holder(fd: int) -> int | None:
    """The PID written in a lock file (the holder stamps it right after locking: wait a moment)."""
    for _ in range(50):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return int(text)
        time.sleep(0.01)
    return None


# --- reading a run's state back -----------------------------------------------------------------------


def load_state(path: str | os.PathLike, map_location="cpu") -> dict:
    """Read a file written by :func:`atomic_save`, with ``weights_only=True``.

    Every failure is a one-line :class:`TrainingStateError` (or ``FileNotFoundError``) that
    says what is wrong with the file and, when there is one, names the previous checkpoint
    (``training_state.previous.pt``) that is still good.
    """
    path = Path(path)
    if path.is_dir():
        raise TrainingStateError(f"{path} is a folder, not a training checkpoint; move it out of the way")
    if not path.is_file():
        raise FileNotFoundError(f"no training checkpoint at {path}")
    previous = previous_path(path)
    fallback = f"; the checkpoint before it, {previous}, is intact" if previous.is_file() else ""
    if path.stat().st_size == 0:
        raise TrainingStateError(f"{path} is empty (0 bytes): it was never written completely{fallback}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch's own messages run to many lines, and suggest an unsafe load
        if "Unsupported global" in str(err):
            reason = "it holds Python objects that are not tensors, numbers or strings, which are never loaded"
        else:
            reason = f"it is damaged or not a torch.save file ({type(err).__name__})"
        raise TrainingStateError(f"cannot read training checkpoint {path}: {reason}{fallback}") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise TrainingStateError(
            f"{path} is not a mingpt_lite training checkpoint (format {found!r}, expected {FORMAT!r}); "
            f"model-only weights are loaded with mingpt_lite.load_model"
        )
    return state


def check_optimizer_state(saved: dict, optimizer: torch.optim.Optimizer) -> None:
    """Raise a one-line :class:`TrainingStateError` unless ``saved`` (an optimizer's
    ``state_dict()`` from a checkpoint) fits ``optimizer``; call it before ``load_state_dict``.

    torch only says "loaded state dict has a different number of parameter groups". A
    checkpoint of a run trained with another optimizer (Muon's groups carry ``muon`` and
    ``momentum`` settings that AdamW's lack) is named as such, with what to do about it.
    """
    groups = saved.get("param_groups", []) if isinstance(saved, dict) else []
    theirs = [len(group.get("params", ())) for group in groups]
    ours = [len(group["params"]) for group in optimizer.param_groups]
    settings = lambda gs: set().union(*(set(g) for g in gs)) - {"params"} if gs else set()  # noqa: E731
    foreign = sorted(settings(groups) - settings(optimizer.param_groups))
    if theirs == ours and not foreign:
        return
    other = f" with settings {', '.join(foreign)} that {type(optimizer).__name__} does not have" if foreign else ""
    raise TrainingStateError(
        f"the checkpoint's optimizer state does not fit this {type(optimizer).__name__}: it has parameter groups of "
        f"{theirs} tensors{other}, this optimizer {ours}; it was saved by another optimizer (a Muon run, say): build "
        f"the same optimizer and pass it as Trainer.resume(..., optimizer=...)")


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
