"""Files written whole or not at all, and folders that say what they hold.

- :func:`atomic_write`: the one atomic writer. A context manager yielding a temporary path next to the target; on a
  clean exit the file is fsynced and renamed over the target (``os.replace``), on an exception it is deleted. Also
  for folders (``folder=True``): the old folder, if any, is swapped out only after the new one is complete.
- :func:`atomic_write_text`: ``atomic_write`` for a string.
- :func:`write_manifest` / :func:`check_manifest`: ``manifest.json`` with a format version, the size and SHA-256 of
  every file of a folder and a config hash; checking it first names the damaged file and the fix.
- :func:`run_lock`: one writer per run folder (``fcntl.flock`` on ``<folder>/.lock``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hetrec.errors import HetrecError

__all__ = [
    "atomic_write", "atomic_write_text", "sha256_file", "config_hash", "write_manifest", "check_manifest",
    "DamagedFileError", "RunFolderBusy", "run_lock", "MANIFEST",
]

MANIFEST = "manifest.json"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for p in [path, *path.rglob("*")]:
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
        elif p.is_dir():
            _fsync_dir(p)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, folder: bool = False) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; write there; on success it replaces ``path`` atomically.

    Args:
        path: the final file (or folder with ``folder=True``).
        folder: yield an (existing, empty) temporary folder instead of a file name. An existing ``path`` folder is
            renamed aside, the new one renamed into place, then the old one removed, so ``path`` is never half new.

    Readers never see a partly written ``path``: the data is fsynced before the rename and a failure (an exception
    or a killed process) leaves at most a hidden ``.<name>.*.tmp`` next to it, never a damaged ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if folder:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        if folder:
            _fsync_tree(tmp)
            if path.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", suffix=".tmp", dir=path.parent))
                os.replace(path, old / path.name)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
        else:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def config_hash(config: Mapping[str, Any] | None) -> str:
    """SHA-256 of a config as canonical JSON (sorted keys); the same config always gives the same hash."""
    blob = json.dumps(config or {}, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class DamagedFileError(HetrecError, ValueError):
    """A file of an artifact, checkpoint or cache that is missing, truncated or altered; the message names it and
    the fix (a :class:`~hetrec.errors.HetrecError`: the CLIs print it and exit with status 2).

    Attributes:
        path: the damaged file. fix: what to do about it.
    """

    def __init__(self, path: str | os.PathLike, problem: str, fix: str) -> None:
        self.path = Path(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem}; {fix}")


def write_manifest(folder: str | os.PathLike, kind: str, version: int, config: Mapping[str, Any] | None = None,
                   **extra: Any) -> dict:
    """Write ``<folder>/manifest.json``: ``kind``, format ``version``, ``config_hash`` and ``{file: {size, sha256}}``
    for every file under ``folder`` (except the manifest itself). Call it last, when every file is written."""
    folder = Path(folder)
    files = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            files[p.relative_to(folder).as_posix()] = {"size": p.stat().st_size, "sha256": sha256_file(p)}
    m = {"kind": kind, "format_version": int(version), "config_hash": config_hash(config), "files": files, **extra}
    (folder / MANIFEST).write_text(json.dumps(m, indent=1, sort_keys=True))
    return m


def check_manifest(folder: str | os.PathLike, kind: str, version: int, fix: str) -> dict:
    """Verify ``<folder>/manifest.json`` before anything in ``folder`` is parsed; return the manifest.

    Raises:
        DamagedFileError: naming the first file that is missing, has another size or another SHA-256 than recorded
            (or the manifest itself when it is absent, unreadable, of another kind or format version), with ``fix``.
    """
    folder = Path(folder)
    mpath = folder / MANIFEST
    if not mpath.is_file():
        raise DamagedFileError(mpath, f"missing (every {kind} written by this hetrec version has one)", fix)
    try:
        m = json.loads(mpath.read_text(encoding="utf-8"))
        files = m["files"]
        if not isinstance(files, dict):
            raise TypeError("files is not a mapping")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise DamagedFileError(mpath, f"unreadable ({type(e).__name__}: {e})", fix) from None
    if m.get("kind") != kind or m.get("format_version") != version:
        raise DamagedFileError(
            mpath, f"holds a {m.get('kind')!r} of format {m.get('format_version')!r}; this hetrec reads {kind!r} "
                   f"format {version}", fix)
    for name, rec in files.items():
        p = folder / name
        if not p.is_file():
            raise DamagedFileError(p, "missing (listed in manifest.json)", fix)
        size = p.stat().st_size
        if size != rec.get("size"):
            raise DamagedFileError(p, f"has {size} bytes, manifest.json records {rec.get('size')} (truncated or "
                                      f"altered)", fix)
        if sha256_file(p) != rec.get("sha256"):
            raise DamagedFileError(p, "content differs from manifest.json's SHA-256 (corrupted or altered)", fix)
    return m


class RunFolderBusy(HetrecError, RuntimeError):
    """Another process holds the run folder's lock."""


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold ``<folder>/.lock`` (``fcntl.flock``, exclusive, non-blocking) for the duration: one writer per folder.

    Raises:
        RunFolderBusy: naming the folder (and the holder's pid when known) when another process holds it.
    """
    import fcntl

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / ".lock"
    f = open(lock, "a+")  # held open for the duration
    try:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "?"
            raise RunFolderBusy(
                f"run folder {folder} is in use by another process (pid {holder}, lock {lock}); wait for it to "
                f"finish, or choose another folder (hydra.run.dir=...)"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        yield lock
    finally:
        f.close()  # closing releases the flock
