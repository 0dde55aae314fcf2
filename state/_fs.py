"""Crash-safe file primitives for the local backend (POSIX).

A file is replaced by writing a temporary file in the same directory, fsyncing it, renaming it
over the target and fsyncing the directory: after a crash at any instant the target holds
either the old or the new bytes. Temporary files carry the writer's pid in their name, so
those left behind by a killed writer can be swept once that process is gone.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def process_alive(pid: int) -> bool:
    """Whether `pid` runs on this host (a recycled pid counts as alive: the safe answer)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_temp(directory: Path, stem: str, data: bytes) -> Path:
    """A durable 0600 temporary file (mkstemp's mode) holding `data`."""
    fd, name = tempfile.mkstemp(prefix=f".{stem}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def replace_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that no reader or crash ever sees a partial file."""
    temp = write_temp(path.parent, path.name, data)
    try:
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def link_atomically(source: Path, expected: os.stat_result, path: Path) -> bool:
    """Make `path` another name of the file at `source`, replacing `path` atomically.

    Only while `source` is still the file `expected` describes (same device and inode); False,
    with nothing changed, when it is not or when the file system refuses the hard link.
    """
    temp = path.parent / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}{TEMP_SUFFIX}"
    try:
        os.link(source, temp)
    except OSError:  # no hard links here (EPERM, EXDEV...), or the source is gone
        return False
    try:
        linked = os.stat(temp)
        if (linked.st_dev, linked.st_ino) != (expected.st_dev, expected.st_ino):
            return False
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True


def create_exclusively(path: Path, data: bytes) -> bool:
    """Create `path` holding `data` unless it exists (then False), with O_EXCL semantics.

    The content is published by hard-linking a complete temporary file, so the file never
    exists empty or half-written (a writer killed after O_EXCL but before its write would leave
    a lock nobody could attribute). Filesystems without hard links fall back to O_EXCL.
    """
    temp = write_temp(path.parent, path.name, data)
    try:
        os.link(temp, path)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        return _create_with_o_excl(path, data)
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True


def _create_with_o_excl(path: Path, data: bytes) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    fsync_dir(path.parent)
    return True


def sweep_temp_files(directory: Path, stem: str) -> None:
    """Remove temporary files of `stem` (or `stem.*`) whose writer process no longer exists."""
    for temp in directory.glob(f".{stem}.*{TEMP_SUFFIX}"):
        # The name is .STEM.PID.RANDOM.tmp, and mkstemp's RANDOM part holds no dot.
        pid_text = temp.name.removesuffix(TEMP_SUFFIX).rsplit(".", 2)[-2]
        if pid_text.isdigit() and not process_alive(int(pid_text)):
            temp.unlink(missing_ok=True)


@contextlib.contextmanager
def directory_mutex(directory: Path) -> Iterator[None]:
    """Serialise short critical sections between processes (flock on the directory).

    The kernel drops the flock when its holder dies, so a killed process never leaves it held.
    """
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
