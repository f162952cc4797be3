"""Disks that fill up for real, for the full-disk tests: a tmpfs mounted for
one test (skipped with the reason where mounting is not allowed), filled to
the last byte and grown again."""
import contextlib
import subprocess

import pytest


@contextlib.contextmanager
def tmpfs(mount_point, size):
    """Mounts a tmpfs of `size` (such as "24m") at `mount_point` for the block."""
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def grow(mount_point, size):
    """Gives a mounted tmpfs more room: space comes back."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount_point)], check=True)


def fill(directory):
    """Writes a file into `directory` until the disk is full; returns it."""
    filler = directory / "filler"
    chunk = b"\0" * (256 << 10)
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError:
            pass
    return filler
