"""gaplab._fs: atomic writes (unique temporaries, umask untouched), the cache folder, run folders."""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import pytest

from gaplab import ConfigError, GaplabError
from gaplab._fs import OutputError, atomic_write, cache_dir, ensure_dir, run_folder


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_atomic_write_gives_the_umask_mode_and_never_changes_the_umask(tmp_path, monkeypatch):
    calls = []
    real = os.umask
    monkeypatch.setattr(os, "umask", lambda m: calls.append(m) or real(m))
    old = real(0o027)
    try:
        p = atomic_write(tmp_path / "a.txt", lambda tmp: Path(tmp).write_text("hi"))
        assert p.read_text() == "hi"
        assert _mode(p) == 0o640  # 0666 minus the umask, as for any new file
    finally:
        real(old)
    assert calls == []  # before: _umask_mode() set the process umask to 0 for a moment


def test_files_other_threads_create_meanwhile_keep_the_umask(tmp_path, monkeypatch):
    """Before: _umask_mode() set the umask to 0 for a moment; a file another thread created
    then got mode 0666. Here "another thread" creates a file inside every umask call and
    inside the write itself."""
    real = os.umask
    modes = []

    def other_thread_creates_a_file():
        f = tmp_path / f"other{len(modes)}"
        f.write_text("x")
        modes.append(_mode(f))

    def umask(m):
        old = real(m)
        other_thread_creates_a_file()
        return old

    old = real(0o077)
    try:
        monkeypatch.setattr(os, "umask", umask)
        atomic_write(tmp_path / "w.txt", lambda tmp: (other_thread_creates_a_file(), Path(tmp).write_text("w")))
    finally:
        monkeypatch.undo()
        real(old)
    assert modes and set(modes) == {0o600}


def test_atomic_write_temporaries_are_unique_and_cleaned(tmp_path):
    seen = []

    def write(tmp):
        seen.append(tmp)
        Path(tmp).write_text("x")

    for _ in range(5):
        atomic_write(tmp_path / "r.json", write)
    assert len(set(seen)) == 5 and all(s.endswith(".json") for s in seen)
    assert sorted(os.listdir(tmp_path)) == ["r.json"]

    def boom(tmp):
        Path(tmp).write_text("half")
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "r.json", boom)
    assert sorted(os.listdir(tmp_path)) == ["r.json"] and (tmp_path / "r.json").read_text() == "x"


def test_concurrent_atomic_writes_to_one_name_all_succeed(tmp_path):
    """Before: a fixed temporary name let two writers remove each other's file (FileNotFoundError)."""
    errors = []

    def worker(k):
        try:
            for i in range(50):
                atomic_write(tmp_path / "same.txt", lambda tmp, i=i: Path(tmp).write_text(f"{k}-{i}"))
        except Exception as e:  # pragma: no cover - the failure this test guards against
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert os.listdir(tmp_path) == ["same.txt"]


def test_write_errors_are_output_errors(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"cannot write .*file.*: Not a directory") as ei:
        atomic_write(tmp_path / "file" / "sub" / "a.json", lambda tmp: Path(tmp).write_text("x"))
    assert isinstance(ei.value, GaplabError) and isinstance(ei.value, OSError)
    with pytest.raises(OutputError, match="it is a file, not a folder"):
        ensure_dir(tmp_path / "file")

    def full(tmp):
        raise OSError(errno.ENOSPC, "No space left on device", tmp)

    with pytest.raises(OutputError, match=r"cannot write .*b\.json: No space left on device"):
        atomic_write(tmp_path / "b.json", full)
    assert not any(n.startswith(".b.json") for n in os.listdir(tmp_path))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_is_an_output_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="cannot write .*ro.*: Permission denied"):
            atomic_write(ro / "a.json", lambda tmp: Path(tmp).write_text("x"))
    finally:
        ro.chmod(0o700)


def test_cache_dir_is_xdg_and_private(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    d = cache_dir()
    assert d == tmp_path / "xdg" / "gaplab" and d.is_dir()
    assert _mode(d) == 0o700
    d.chmod(0o755)
    assert cache_dir() == d and _mode(d) == 0o700  # tightened again
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # XDG: relative values are ignored
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "gaplab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == tmp_path / "home" / ".cache" / "gaplab"


def test_run_folder_refuses_another_run_unless_overwrite(tmp_path):
    out = tmp_path / "run"
    with run_folder(out) as d:
        assert d == out and d.is_dir()
        (d / "results.json").write_text("{}")
        (d / "fig.png").write_text("png")
        (d / "notes.txt").write_text("mine")
    assert not (out / ".gaplab.lock").exists()
    with pytest.raises(ConfigError, match=r"already holds a run \(results.json\); give another --out, or --overwrite"):
        with run_folder(out):
            pass
    with run_folder(out, resume=True):
        pass
    with run_folder(out, overwrite=True, stale=lambda d: ["results.json", "fig.png", "../escape", "/etc/passwd"]):
        assert not (out / "results.json").exists() and not (out / "fig.png").exists()
    assert (out / "notes.txt").read_text() == "mine"  # only the old run's files go


def test_run_folder_refuses_a_folder_in_use(tmp_path):
    out = tmp_path / "busy"
    with run_folder(out):
        with pytest.raises(ConfigError, match="another gaplab run is writing to .*busy right now"):
            with run_folder(out, overwrite=True):
                pass
    with run_folder(out):  # released afterwards
        pass
