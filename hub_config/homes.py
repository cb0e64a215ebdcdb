"""Students' homes with a size limit (``LMS_DISK_LIMIT``): one ext4 image per student.

Each home is a sparse file ``<homes>/.images/<name>.img`` holding an ext4 file system as
large as the limit, loop-mounted (``nosuid,nodev,discard``) on the home folder
``<homes>/<name>`` while the student's server runs. The spawner then binds that folder
into the sandbox or the container as it would a plain folder. A student who fills it gets
ENOSPC from the kernel, like on a full disk; the host's file system is charged only the
blocks really written (at most the limit), and ``discard`` hands freed blocks back to it.

Why images and not project quotas: they work on any host file system (project quotas
need XFS or ext4 mounted with ``prjquota``, which the data folder rarely is), the same
image serves the sandbox and Docker, and a student cannot escape the limit through hard
links or ownership changes.

Life cycle:
- ``prepare`` (before the server starts): create the image, or move a plain home from before
  into it, or resize it to a changed limit; then mount it unless it is mounted already
  (a hub that crashed leaves it mounted: it is reused, never mounted twice).
- ``release`` (after the server and everything it left running are gone): unmount; lazily
  if something still holds it, so a stop never fails on a busy home. Homes of stopped
  servers stay unmounted, so a large platform holds one loop device per running server.
- A limit of ``0`` or ``none`` keeps plain folders; a home that already has an image keeps
  using it (its data lives there).

Images are never shrunk below their data: a lowered limit shrinks an image only when
``resize2fs`` says the data fits.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from graders.cgroups import parse_bytes

log = logging.getLogger("lms.homes")
IMAGES = ".images"  # under the homes folder; no student name starts with a dot
MOUNT_OPTIONS = "loop,nosuid,nodev,noatime,discard"
MiB = 2**20


def parse_limit(text: str) -> int | None:
    """``LMS_DISK_LIMIT`` in bytes ("2G", "512M"); ``0``/``none``/empty: no limit."""
    text = (text or "").strip().lower()
    if text in ("", "0", "none", "unlimited"):
        return None
    try:
        limit = parse_bytes(text)
    except ValueError:
        raise ValueError(f"LMS_DISK_LIMIT={text!r}: a size such as 2G or 512M, or 0/none for no limit") from None
    if limit < 16 * MiB:
        raise ValueError(f"LMS_DISK_LIMIT={text!r}: at least 16M (a home needs room for its file system)")
    return limit


def _run(*argv: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode not in ok:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")
    return result


def _allocated_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


class StudentHome:
    """The home folder of one student on the host, with its image when there is a limit."""

    def __init__(self, folder: Path, *, uid: int, limit: int | None, gid: int | None = None):
        self.folder = Path(folder)
        self.uid = uid
        self.gid = uid if gid is None else gid
        self.limit = limit
        self.image = self.folder.parent / IMAGES / f"{self.folder.name}.img"
        # a move into an image that was interrupted leaves these behind
        self._pending = self.image.with_name(self.image.name + ".new")
        self._old = self.folder.parent / IMAGES / f"{self.folder.name}.before-quota"

    @property
    def mounted(self) -> bool:
        return os.path.ismount(self.folder)

    def prepare(self) -> None:
        """Make the home ready for a server start (see the module docstring)."""
        if self.folder.is_symlink():
            raise RuntimeError(f"refusing a symlinked home {self.folder}")
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.limit is not None or self.image.exists() or self._old.exists():
            self.image.parent.mkdir(mode=0o700, exist_ok=True)
            if not self.mounted:
                self._recover()
                if not self.image.exists():
                    self._create()
                elif self.limit is not None and not self._attached():
                    # (an image still attached was detached lazily while busy: it is live,
                    # so it is mounted again as it is, on the same loop device, and resized
                    # at a later start)
                    self._resize()
                try:
                    _run("mount", "-t", "ext4", "-o", MOUNT_OPTIONS, str(self.image), str(self.folder))
                except RuntimeError as exc:
                    raise RuntimeError(f"cannot mount the home image (LMS_DISK_LIMIT needs root and loop "
                                       f"devices; LMS_DISK_LIMIT=none turns the limit off): {exc}") from None
        os.chown(self.folder, self.uid, self.gid)
        self.folder.chmod(0o700)

    def release(self) -> None:
        """Unmount the image (lazily when still busy); a plain folder needs nothing."""
        if not self.mounted:
            return
        if subprocess.run(["umount", str(self.folder)], capture_output=True).returncode != 0:
            log.warning("home %s busy at stop; detaching it lazily", self.folder)
            _run("umount", "-l", str(self.folder))

    def remove(self) -> None:
        """Delete the home and its image for good (an account deleted)."""
        self.release()
        for path in (self.image, self._pending):
            path.unlink(missing_ok=True)
        for folder in (self._old, self.folder):
            if folder.exists() and not os.path.ismount(folder):
                shutil.rmtree(folder)

    def _attached(self) -> bool:
        return bool(_run("losetup", "-j", str(self.image)).stdout.strip())

    # --- creating, moving into and resizing images --------------------------------------
    def _recover(self) -> None:
        if self._old.exists() and not self.image.exists():
            # the old folder was moved aside before the new image was in place: start again
            if self.folder.exists() and not any(self.folder.iterdir()):
                self.folder.rmdir()
            if not self.folder.exists():
                self._old.rename(self.folder)
        elif self._old.exists():
            shutil.rmtree(self._old)  # the image was complete; only the old copy is left
        self._pending.unlink(missing_ok=True)

    def _create(self) -> None:
        existing = any(self.folder.iterdir())
        size = self.limit or 0
        if existing:
            used = _allocated_bytes(self.folder)
            needed = used + used // 4 + 32 * MiB
            if needed > size:
                log.warning("home %s holds %d bytes, more than its limit %s; its image gets %d bytes",
                            self.folder, used, self.limit, needed)
                size = needed
        with open(self._pending, "wb") as f:
            f.truncate(size)
        # lazy init: the journal and inode tables of a fresh sparse file read as zeros already,
        # so an empty 2G home takes about 1 MiB of the host's disk instead of 65
        options = f"root_owner={self.uid}:{self.gid},nodiscard,lazy_itable_init=1,lazy_journal_init=1"
        _run("mkfs.ext4", "-q", "-F", "-m", "0", "-E", options, "-L", "lms-home", str(self._pending))
        with tempfile.TemporaryDirectory(dir=self.image.parent) as mnt:
            _run("mount", "-t", "ext4", "-o", MOUNT_OPTIONS, str(self._pending), mnt)
            try:
                os.rmdir(os.path.join(mnt, "lost+found"))  # e2fsck makes it again when it needs it
                if existing:
                    _run("cp", "-a", f"{self.folder}/.", mnt)
            finally:
                _run("umount", mnt)
        if existing:
            log.info("moving home %s into its image %s", self.folder, self.image)
            self.folder.rename(self._old)
            self._pending.rename(self.image)
            self.folder.mkdir()
            shutil.rmtree(self._old)
        else:
            self._pending.rename(self.image)

    def _resize(self) -> None:
        current = self.image.stat().st_size
        if current == self.limit:
            return
        _run("e2fsck", "-f", "-p", str(self.image), ok=(0, 1))  # resize2fs wants a checked file system
        if self.limit > current:
            with open(self.image, "r+b") as f:
                f.truncate(self.limit)
            _run("resize2fs", str(self.image))
            log.info("home image %s grown from %d to %d bytes", self.image, current, self.limit)
            return
        shrink = subprocess.run(["resize2fs", str(self.image), f"{self.limit // 1024}K"], capture_output=True, text=True)
        if shrink.returncode != 0:
            log.warning("home image %s keeps its %d bytes: its data does not fit in %d (%s)",
                        self.image, current, self.limit, shrink.stderr.strip())
            return
        with open(self.image, "r+b") as f:
            f.truncate(self.limit)
        log.info("home image %s shrunk from %d to %d bytes", self.image, current, self.limit)


def release_after_stop(spawner) -> None:
    """``Spawner.post_stop_hook``: unmount the home of a server however it ended.

    JupyterHub calls a spawner's ``stop`` only for a server that still runs; one that died
    (OOM-killed, crashed, failed while starting) reaches only this hook. Releasing twice is
    harmless."""
    home = getattr(spawner, "home", None)
    if isinstance(home, StudentHome):
        home.release()
