"""Run folders written as a whole: a save replaces an old run only by a complete new one.

:func:`write` fills a temporary sibling folder ``runs/.x.tmp-<pid>-<hex>`` of the run ``runs/x``, flushes
every file and the folder to disk (fsync), then moves the old run aside (``runs/.x.trash-<pid>-<hex>``),
renames the new one to ``runs/x`` and removes the old. An exclusive ``flock`` on ``runs/.x.lock`` (an
empty file that stays) is held throughout: a second save into the same run fails at once with
:class:`RunLockedError` (or waits ``wait`` seconds), and :func:`reading` takes a shared lock, so a reader
never sees a run mid-swap. Files and folders get the permissions of the umask.

What a save killed at any moment (``kill -9``; a power cut after the fsyncs) leaves behind, and what the
next save or :func:`reading` (``pbnn.load``) makes of it, holding the lock:

=============================================  ==============================================
left on disk                                   repaired to
=============================================  ==============================================
``x`` (old or none), ``.x.tmp-*`` (partial)    ``x`` as it was; the temporary folder removed
``.x.trash-*`` (old), ``.x.tmp-*`` (complete)  the old run moved back to ``x``; temporary removed
``x`` (new), ``.x.trash-*`` (whole or part)    ``x``, the new run; the trash removed
=============================================  ==============================================

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = write(root / "run", lambda folder: (folder / "a.txt").write_text("new"), allowed=["a.txt"])
>>> sorted(p.name for p in root.iterdir())
['.run.lock', 'run']
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: How long :func:`reading` waits for a save in progress before it gives up (seconds).
READ_WAIT = 120.0
#: The files of a saved run: its spec (TOML) and its DataTree (NetCDF).
SPEC_FILE = "spec.toml"
IDATA_FILE = "idata.nc"
RUN_FILES = (SPEC_FILE, IDATA_FILE)


class RunLockedError(BlockingIOError):
    """Another process is saving into the same run folder."""


def write(path: str | Path, fill: Callable[[Path], None], *, allowed: Collection[str], wait: float = 0.0) -> Path:
    """Write the run folder ``path`` as a whole: ``fill(folder)`` writes its files into an empty folder.

    An existing ``path`` must be a folder holding only names of ``allowed`` (an earlier run; its files
    would be lost otherwise). Raises :class:`RunLockedError` when another process saves into ``path``
    and has not finished within ``wait`` seconds. Whatever ``fill`` raises leaves ``path`` as it was.
    """
    target = _absolute(path)
    check_target(path, allowed)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _lock(target, exclusive=True, wait=wait, user_path=path):
        _repair(target)
        check_target(path, allowed)
        tmp = _sibling(target, "tmp")
        os.mkdir(tmp)
        try:
            fill(tmp)
            _fsync_tree(tmp)
            _swap(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return Path(path)


def save_run(path: str | Path, spec_text: str, idata, *, wait: float = 0.0) -> Path:
    """Write ``spec_text`` (TOML) and ``idata`` (a DataTree, NetCDF) as the run folder ``path``, as a whole
    (:func:`write`)."""

    def fill(folder: Path) -> None:
        (folder / SPEC_FILE).write_text(spec_text)
        idata.to_netcdf(folder / IDATA_FILE, engine="h5netcdf")

    return write(path, fill, allowed=RUN_FILES, wait=wait)


def read_run(path: str | Path, kind: type) -> tuple[Any, Any]:
    """``(spec, idata)`` of the run folder ``path`` (:func:`save_run`) whose spec is a ``kind`` (``BNN``, ``VAE``);
    errors name the missing file, a spec of another kind, or a NetCDF file that cannot be read."""
    import xarray as xr

    from pbnn.spec import load_spec

    path = Path(path)
    with reading(path):
        for name in RUN_FILES:
            if not (path / name).is_file():
                raise FileNotFoundError(f"{path}: not a saved pbnn run (missing {name})")
        spec = load_spec(path / SPEC_FILE)
        if not isinstance(spec, kind):
            raise ValueError(f"{path / SPEC_FILE}: a {type(spec).__name__} spec, not a {kind.__name__}; load the run "
                             "with pbnn.load")
        try:
            with xr.open_datatree(path / IDATA_FILE, engine="h5netcdf") as tree:
                idata = tree.load()
        except Exception as err:
            raise ValueError(f"{path / IDATA_FILE}: could not be read as NetCDF ({type(err).__name__}: {err}); "
                             "the file is truncated or corrupt") from None
    return spec, idata


@contextmanager
def reading(path: str | Path, *, wait: float = READ_WAIT) -> Iterator[None]:
    """Hold a shared lock on the run folder ``path`` while the caller reads it; repair a save cut short first.

    Without a run or its leftovers at ``path`` (nothing to read) and where the lock file cannot be
    created (a read-only folder), the caller reads without a lock.
    """
    target = _absolute(path)
    if not (target.is_dir() or _leftovers(target)):
        yield
        return
    for exclusive in (False, True):
        with _lock(target, exclusive=exclusive, wait=wait, user_path=path, optional=True) as held:
            if held and _leftovers(target) and not exclusive:
                continue  # come back with the exclusive lock to repair
            if held and exclusive:
                _repair(target)
            yield
            return


def check_target(path: str | Path, allowed: Collection[str]) -> None:
    """Raise ``FileExistsError``/``NotADirectoryError``/``PermissionError`` unless a run can be saved at ``path``.

    ``path`` may be missing (its folders are created), an empty folder or a folder holding only
    ``allowed`` names; the first existing folder above it must be writable.
    """
    target = _absolute(path)
    if target.is_dir():
        extra = sorted(set(os.listdir(target)) - set(allowed))
        if extra:
            shown = ", ".join(extra[:3]) + (f" and {len(extra) - 3} more" if len(extra) > 3 else "")
            raise FileExistsError(f"{path}: is a folder holding files that are not part of a pbnn run ({shown}); "
                                  "saving would delete them: choose a new folder or an earlier run's")
    elif target.exists() or target.is_symlink():
        raise FileExistsError(f"{path}: is an existing file; a run is saved as a folder: choose another path")
    ancestor = target if target.is_dir() else target.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise NotADirectoryError(f"{path}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PermissionError(f"{path}: cannot write into the folder {ancestor} (permission denied)")


# -- the steps ----------------------------------------------------------------------------------------


def _absolute(path: str | Path) -> Path:
    """``path`` with symbolic links resolved: renames then move the folder, not a link to it."""
    return Path(os.path.realpath(path))


def _sibling(target: Path, kind: str) -> Path:
    return target.parent / f".{target.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"


def _leftovers(target: Path) -> dict[str, list[Path]]:
    """Temporary and trash folders of ``target`` left by a save that did not finish, by kind."""
    try:
        names = os.listdir(target.parent)
    except OSError:
        return {}
    found: dict[str, list[Path]] = {}
    for kind in ("tmp", "trash"):
        prefix = f".{target.name}.{kind}-"
        paths = [target.parent / n for n in names if n.startswith(prefix)]
        if paths:
            found[kind] = paths
    return found


def _repair(target: Path) -> None:
    """Undo what a killed save left (see the module's table); the caller holds the exclusive lock."""
    left = _leftovers(target)
    trash = sorted(left.get("trash", []), key=lambda p: p.stat().st_mtime)
    if trash and not os.path.lexists(target):  # killed between its two renames: the old run comes back
        os.rename(trash.pop(), target)
    for leftover in trash + left.get("tmp", []):
        shutil.rmtree(leftover, ignore_errors=True)
    if left:
        _fsync_dir(target.parent)


def _swap(tmp: Path, target: Path) -> None:
    if not os.path.lexists(target):
        os.rename(tmp, target)
        _fsync_dir(target.parent)
        return
    trash = _sibling(target, "trash")
    os.rename(target, trash)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(trash, target)
        raise
    _fsync_dir(target.parent)
    shutil.rmtree(trash)


def _fsync_tree(folder: Path) -> None:
    for root, _, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(root))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- the lock ------------------------------------------------------------------------------------------


@contextmanager
def _lock(target: Path, *, exclusive: bool, wait: float, user_path: str | Path, optional: bool = False) -> Iterator[bool]:
    """Hold ``flock`` on ``.NAME.lock`` next to ``target``; yields whether a lock is held (``optional``:
    False where the lock file cannot be created). A saver writes its pid into the file for others' errors."""
    lock_file = target.parent / f".{target.name}.lock"
    try:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        if not optional:
            raise
        yield False
        return
    try:
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                saver = _saver(fd)
                patience = wait if saver or not exclusive else max(wait, READ_WAIT)  # readers finish soon
                if time.monotonic() - start >= patience:
                    raise RunLockedError(_busy_message(user_path, saver, patience)) from None
                time.sleep(0.02)
        if exclusive:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield True
        finally:
            if exclusive:
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock


def _saver(fd: int) -> int | None:
    """The pid of the live process saving under the lock (None: the lock is held by readers)."""
    try:
        pid = int(os.pread(fd, 32, 0).decode() or 0)
        if pid:
            os.kill(pid, 0)
        return pid or None
    except (ValueError, ProcessLookupError):
        return None
    except PermissionError:  # alive, another user's
        return pid


def _busy_message(path: str | Path, saver: int | None, waited: float) -> str:
    if saver is None:
        return f"{path}: other processes have been reading it for over {waited:g} s; try again later"
    still = f" and has not finished after {waited:g} s" if waited > 0 else ""
    return f"{path}: another process (pid {saver}) is saving a run into it{still}; wait until it is done or save elsewhere"
