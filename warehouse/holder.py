"""Who holds the warehouse file: a small note beside it, so that a waiting process can say.

DuckDB's lock error names only an executable and a PID ("Conflicting lock is held in
/usr/bin/python3.11 (PID 24340)"). While a process of this project has the file open, it
keeps a note ``<file>.holder-<pid>`` beside it naming its flow run or command line; a
process that finds the file locked reads the note of the PID that DuckDB names.

Crash-safe: a note is believed only if its PID is alive and started when the note says
(Linux ``/proc``), so a note left by a killed process, or a PID reused by another program,
names nobody; the next process to open the file removes notes of dead PIDs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import sys
import threading
from pathlib import Path

_LOCK_HELD = re.compile(r"Conflicting lock is held in (?P<exe>.+?) \(PID (?P<pid>\d+)\)")


def note_path(db: str | os.PathLike[str], pid: int) -> Path:
    """The note of process ``pid`` for the database file ``db``."""
    path = Path(db).resolve()
    return path.with_name(f"{path.name}.holder-{pid}")


def command_line(argv: list[str] | None = None) -> str:
    """This process's command line, short: ``command `klines ingest --symbols BTCUSDT```."""
    argv = list(sys.argv if argv is None else argv) or ["python"]
    head = Path(argv[0]).name
    if head == "__main__.py":  # python -m package
        head = f"python -m {Path(argv[0]).parent.name}"
    text = " ".join([head, *(shlex.quote(a) for a in argv[1:])])
    return f"command `{text if len(text) <= 120 else text[:119] + '…'}`"


class _Notes:
    """This process's notes, one per open file, kept while any connection to it is open."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[Path, int] = {}
        self._written: dict[Path, str] = {}
        self._swept: set[Path] = set()

    def claim(self, db: str | os.PathLike[str], label: str) -> None:
        path = note_path(db, os.getpid())
        with self._lock:
            self._open[path] = self._open.get(path, 0) + 1
            if self._written.get(path) != label:
                _write(path, label)
                self._written[path] = label
            if path not in self._swept:
                self._swept.add(path)
                _sweep(Path(db).resolve())

    def release(self, db: str | os.PathLike[str]) -> None:
        path = note_path(db, os.getpid())
        with self._lock:
            left = self._open.get(path, 0) - 1
            if left > 0:
                self._open[path] = left
                return
            self._open.pop(path, None)
            self._written.pop(path, None)
            with contextlib.suppress(OSError):
                path.unlink()


_NOTES = _Notes()


def claim(db: str | os.PathLike[str], label: str) -> None:
    """Note that this process has ``db`` open, as ``label`` (never fails: a note that
    cannot be written only makes a waiting process's message less specific)."""
    try:
        _NOTES.claim(db, label)
    except OSError:
        pass


def release(db: str | os.PathLike[str]) -> None:
    """One connection of this process to ``db`` is closed; the last one removes the note."""
    _NOTES.release(db)


def describe(db: str | os.PathLike[str], lock_error: str) -> str:
    """Who holds ``db``, from DuckDB's lock error and the holder's note.

    ``flow run 'able-puma' of ingest-klines/ingest-short, PID 24340``; for a process without
    a note, the executable DuckDB names and that no klines run claims it.
    """
    found = _LOCK_HELD.search(lock_error)
    if found is None:
        return "lock conflict"
    pid = int(found["pid"])
    label = read_label(db, pid)
    if label is not None:
        return f"{label}, PID {pid}"
    return (
        f"{found['exe']}, PID {pid}, which names no klines flow run or command: "
        "an open DuckDB session?"
    )


def read_label(db: str | os.PathLike[str], pid: int) -> str | None:
    """The label in ``pid``'s note for ``db``, if the note is there and still true."""
    try:
        note = json.loads(note_path(db, pid).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(note, dict) or note.get("pid") != pid or not _alive(pid):
        return None
    started = _started(pid)
    if started is not None and note.get("started") not in (None, started):
        return None  # the PID now belongs to another process
    label = note.get("label")
    return label if isinstance(label, str) and label else None


def _write(path: Path, label: str) -> None:
    pid = os.getpid()
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.write_text(json.dumps({"pid": pid, "started": _started(pid), "label": label}))
    os.replace(tmp, path)


def _sweep(db: Path) -> None:
    """Remove the notes of processes that are gone (killed while holding the file)."""
    for note in db.parent.glob(f"{_glob_escape(db.name)}.holder-*"):
        pid = note.name.rsplit("-", 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                note.unlink()


def _glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _started(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (Linux), else ``None``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])
