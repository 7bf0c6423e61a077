"""Files and folders: atomic writes, the user's cache folder, run folders.

* :func:`atomic_write` — a temporary file with a unique name in the target folder, then
  ``os.replace``: readers never see half a file, and two writers never share a temporary.
  The temporary is created with mode ``0o666`` so the process umask applies as for any
  other file; the umask itself is never read or changed (changing it is process-wide and
  races with other threads creating files).
* :func:`cache_dir` — ``$XDG_CACHE_HOME/gaplab`` (or ``~/.cache/gaplab``), mode ``0o700``.
* :func:`run_folder` — claims an output folder for one run: refuses a folder that already
  holds another run (unless ``overwrite``) and a folder another gaplab run is writing now.

An :class:`OSError` while writing becomes :class:`OutputError` (a :class:`~gaplab.GaplabError`
and an :class:`OSError`): ``cannot write <path>: <reason>``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ._errors import ConfigError, GaplabError

__all__ = ["atomic_write", "ensure_dir", "cache_dir", "run_folder", "OutputError", "RUN_MARKERS"]

#: files whose presence says a folder holds the output of a gaplab run
RUN_MARKERS = ("run.json", "results.json", "history.json", "summary.json", "final_metrics.json",
               "checkpoint.pt", "checkpoint.npz")

_LOCK_NAME = ".gaplab.lock"


class OutputError(GaplabError, OSError):
    """An output file or folder could not be written (read-only, full, not a folder, ...)."""


def _cannot_write(path: str | os.PathLike[str], e: OSError) -> OutputError:
    err = OutputError(f"cannot write {os.fspath(path)}: {e.strerror or e}")
    err.errno = e.errno
    return err


def ensure_dir(path: str | os.PathLike[str]) -> Path:
    """``mkdir -p path``; a failure is an :class:`OutputError` naming the folder."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"cannot write {p}: it is a file, not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _cannot_write(e.filename or p, e) from e
    return p


def _create_temp(p: Path) -> Path:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = p.with_name(f".{p.name}.{secrets.token_hex(4)}{p.suffix}")
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask applies, as for any other new file
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"no free temporary name next to {p}")  # pragma: no cover


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], object]) -> Path:
    """Call ``write(tmp_path)`` then move the result to ``path``; nothing half-written on error.

    The temporary has a unique name in the same folder and the same suffix as ``path`` (so
    writers that infer the format from the name keep working). An :class:`OSError` becomes
    :class:`OutputError` ``cannot write <path>: <reason>``.
    """
    p = Path(path)
    ensure_dir(p.parent)
    tmp: Path | None = None
    try:
        tmp = _create_temp(p)
        write(str(tmp))
        os.replace(tmp, p)
        tmp = None
    except OutputError:
        raise
    except OSError as e:
        raise _cannot_write(p, e) from e
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return p


def cache_dir() -> Path:
    """The user's gaplab cache folder: ``$XDG_CACHE_HOME/gaplab``, else ``~/.cache/gaplab``.

    Created with mode ``0o700`` (and tightened to it when it exists with wider permissions);
    a folder owned by another user is refused (:class:`OutputError`).
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"  # XDG: ignore relative
    d = root / "gaplab"
    ensure_dir(root)
    try:
        d.mkdir(mode=0o700, exist_ok=True)
        st = d.stat()
        if hasattr(os, "getuid"):
            if st.st_uid != os.getuid():
                raise OutputError(f"cache folder {d} belongs to another user; set XDG_CACHE_HOME to a folder of yours")
            if st.st_mode & 0o077:
                os.chmod(d, 0o700)
    except OutputError:
        raise
    except OSError as e:
        raise _cannot_write(d, e) from e
    if not d.is_dir():
        raise OutputError(f"cannot write {d}: it is a file, not a folder")
    return d


def _try_lock(fd: int) -> bool:
    """Non-blocking exclusive lock of ``fd``; ``False`` when another process holds it."""
    if sys.platform == "win32":  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        import fcntl
    except ImportError:  # pragma: no cover - a platform with neither (e.g. WASI): go on unlocked
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # a file system without locks (ENOLCK): go on unlocked
        return True
    return True


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    lock = folder / _LOCK_NAME
    for _ in range(20):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise _cannot_write(folder, e) from e
        if not _try_lock(fd):
            os.close(fd)
            raise ConfigError(
                f"another gaplab run is writing to {folder} right now; wait for it to finish or give another --out"
            )
        try:  # a finishing run may have removed the file between our open and our lock: retry
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except OSError:
            same = False
        if same:
            break
        os.close(fd)
    else:  # pragma: no cover
        raise ConfigError(f"could not lock {folder} for this run")
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def _remove_stale(folder: Path, names: Iterable[str]) -> None:
    for name in names:
        rel = Path(name)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            continue  # only files inside the folder
        p = folder / rel
        if not (p.is_file() or p.is_symlink()):
            continue
        try:
            p.unlink()
        except OSError as e:
            raise _cannot_write(p, e) from e
        parent = p.parent
        while parent != folder and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent


@contextlib.contextmanager
def run_folder(
    out: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    resume: bool = False,
    stale: Callable[[Path], Iterable[str]] | None = None,
) -> Iterator[Path]:
    """Claim folder ``out`` for one run (created if needed) for the duration of the block.

    * Another gaplab run writing to ``out`` now → :class:`~gaplab.ConfigError`.
    * ``out`` already holds a run (one of :data:`RUN_MARKERS`) → ConfigError, unless
      ``overwrite`` (then the files ``stale(out)`` names, relative to ``out``, are removed
      first, so the new run's outputs are not mixed with the old run's) or ``resume``.
    """
    folder = ensure_dir(out)
    with _folder_lock(folder):
        found = [m for m in RUN_MARKERS if (folder / m).exists()]
        if found and not resume:
            if not overwrite:
                raise ConfigError(
                    f"{folder} already holds a run ({', '.join(found)}); give another --out, "
                    "or --overwrite to replace it"
                )
            if stale is not None:
                _remove_stale(folder, stale(folder))
        yield folder
