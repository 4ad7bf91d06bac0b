"""Opening the file registry's files so that no neighbour can plant one, and its lock.

The data file and the lock file are opened with ``O_NOFOLLOW`` (a symbolic link is refused, never
followed) and ``O_NONBLOCK`` (a FIFO planted in their place cannot block the open), then checked
on the open descriptor: a regular file, owned by this user (or, when ``registry.mode`` shares the
files with a group, by any user with one of this user's groups as the file's group), with one
link; the data file also must not be writable by others (nor by its group when the mode keeps
the files to their owner). A file that fails is refused with :class:`UnsafeFile`, whose message
names what was wrong; nothing is read from it, locked through it or chmod'ed through it.

The lock is ``flock`` on the lock file, as the ``filelock`` package takes it, so processes of
earlier versions and this one exclude each other.
"""

from __future__ import annotations

import errno
import fcntl
import os
import pwd
import stat
import time
from types import TracebackType

_POLL = 0.01
"""Seconds between two tries to take a lock that another process holds."""

_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFLNK: "a symbolic link",
}


class UnsafeFile(Exception):
    """A registry file that this process must not use; the message says why (without the path)."""


class LockTimeout(Exception):
    """Another process held the lock longer than the timeout."""


def _owner(uid: int) -> str:
    """Return ``uid N (name)``, or ``uid N`` for a user without a name."""
    try:
        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return f"uid {uid}"


def _groups() -> set[int]:
    return {os.getegid(), *os.getgroups()}


def check(found: os.stat_result, mode: int, *, content: bool) -> None:
    """Refuse a file that is not this user's regular file, as :func:`open_checked` describes.

    Args:
        found: the file's ``fstat`` (or ``lstat``).
        mode: the configured ``registry.mode``; group bits admit files of this user's groups.
        content: the file's bytes are trusted (the data file): refuse one that users other than
            those of ``mode`` may write to. The lock file's bytes mean nothing; its
            permissions are narrowed instead.

    Raises:
        UnsafeFile: what is wrong with the file.
    """
    kind = stat.S_IFMT(found.st_mode)
    if kind != stat.S_IFREG:
        raise UnsafeFile(f"it is {_KINDS.get(kind, 'not a regular file')}, not a regular file")
    shared = bool(mode & 0o070)
    if found.st_uid != os.geteuid():
        if not shared:
            raise UnsafeFile(
                f"it is owned by {_owner(found.st_uid)}, not by this user ({_owner(os.geteuid())}): "
                "another user may have planted it"
            )
        if found.st_gid not in _groups():
            raise UnsafeFile(
                f"it is owned by {_owner(found.st_uid)} and group {found.st_gid}, neither this user "
                f"({_owner(os.geteuid())}) nor one of its groups: another user may have planted it"
            )
    if found.st_nlink != 1:
        raise UnsafeFile(f"it has {found.st_nlink} hard links: it may be another file of this user")
    if content and found.st_mode & stat.S_IWOTH:
        raise UnsafeFile("every user may write to it")
    if content and found.st_mode & stat.S_IWGRP and not shared:
        raise UnsafeFile(f"its group may write to it, while registry.mode is {mode:04o}")


def open_checked(path: str, flags: int, mode: int, *, content: bool) -> int:
    """Open a registry file without following a link or blocking, and check what was opened.

    Args:
        path: the file.
        flags: ``os.O_RDONLY`` for the data file, ``os.O_RDWR | os.O_CREAT`` for the lock file.
        mode: ``registry.mode``: the permissions of a created file, and which owners are accepted.
        content: see :func:`check`.

    Returns:
        The open descriptor (the caller closes it).

    Raises:
        UnsafeFile: a symbolic link, not a regular file, another user's file, one with several
            hard links, or (``content``) a file others may write to.
        OSError: the file cannot be opened for another reason (FileNotFoundError when it does
            not exist and ``flags`` does not create it).
    """
    try:
        handle = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFile("it is a symbolic link; registry files are never followed") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            # fs.protected_regular refuses another user's file in a sticky folder this way: say whose.
            problem = _problem(path, mode, content)
            if problem is not None:
                raise UnsafeFile(problem) from None
        raise
    try:
        check(os.fstat(handle), mode, content=content)
    except BaseException:
        os.close(handle)
        raise
    return handle


def _problem(path: str, mode: int, content: bool) -> str | None:
    try:
        check(os.lstat(path), mode, content=content)
    except UnsafeFile as exc:
        return str(exc)
    except OSError:
        pass
    return None


class FileLock:
    """An exclusive ``flock`` on the lock file, taken within a timeout; a context manager.

    Args:
        path: the lock file (created with ``mode`` when missing).
        mode: ``registry.mode``.
        timeout: seconds to wait for a lock that another process holds.
    """

    def __init__(self, path: str, mode: int, timeout: float) -> None:
        self.path = path
        self.mode = mode
        self.timeout = timeout
        self._handle: int | None = None

    def __enter__(self) -> FileLock:
        """Take the lock.

        Raises:
            UnsafeFile: the lock file is not this user's regular file (see :func:`open_checked`).
            LockTimeout: another process held it for ``timeout`` seconds.
            OSError: the lock file cannot be created or opened.
        """
        handle = open_checked(self.path, os.O_RDWR | os.O_CREAT, self.mode, content=False)
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        raise
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"lock held longer than {self.timeout:g}s")
                time.sleep(_POLL)
        except BaseException:
            os.close(handle)
            raise
        self._handle = handle
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Release the lock (closing the descriptor releases the flock)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            os.close(handle)
