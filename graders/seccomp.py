"""The seccomp filter every sandboxed process runs under.

bubblewrap loads a compiled classic-BPF program from a file descriptor (``--seccomp FD``).
We build that program once per process with libseccomp (through ctypes, so no Python
binding has to be installed and the syscall numbers come from libseccomp's own tables for
the machine's architecture rather than from a hand-written list).

The namespaces already take away what these calls could reach (no capabilities, no
network, its own mount and pid namespaces); the filter is a second wall that keeps kernel
attack surface small and makes the intent explicit: a denied call fails with EPERM, the
program keeps running.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import termios

# Calls no student program needs and that either administer the machine, escape or
# inspect other processes, or expose large kernel interfaces. Names unknown to the
# running libseccomp (older kernels) are skipped.
DENIED_SYSCALLS = (
    # mounting, namespaces, changing root
    "mount", "umount", "umount2", "pivot_root", "chroot", "unshare", "setns",
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
    # looking into or controlling other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # administering the machine
    "reboot", "kexec_load", "kexec_file_load", "init_module", "finit_module",
    "delete_module", "create_module", "swapon", "swapoff", "acct", "syslog",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname",
    "setdomainname", "iopl", "ioperm", "quotactl", "quotactl_fd", "vhangup",
    "nfsservctl", "uselib", "lookup_dcookie",
    # large kernel interfaces with a history of privilege escalations
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
    "open_by_handle_at", "name_to_handle_at", "fanotify_init",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
)

# ioctl requests denied whatever the file: pushing characters into a terminal's input
# queue (TIOCSTI) is how a sandboxed program would type commands into its parent's shell.
DENIED_IOCTLS = (termios.TIOCSTI, getattr(termios, "TIOCLINUX", 0x541C))

_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_CMP_MASKED_EQ = 7
_NR_SCMP_ERROR = -1


def _scmp_act_errno(code: int) -> int:
    return 0x00050000 | (code & 0x0000FFFF)


class _ScmpArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


class SeccompUnavailable(RuntimeError):
    """libseccomp could not be loaded or refused to build the filter."""


def _load_libseccomp() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as exc:
        raise SeccompUnavailable(
            f"libseccomp is not installed ({exc}); install the libseccomp2 package"
        ) from exc
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
        ctypes.POINTER(_ScmpArgCmp),
    ]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


def _check(rc: int, what: str) -> None:
    if rc < 0:
        raise SeccompUnavailable(f"libseccomp {what} failed: {os.strerror(-rc)}")


@functools.cache
def compiled_filter() -> bytes:
    """The BPF program (bytes in the kernel's ``struct sock_filter`` layout) for bwrap."""
    lib = _load_libseccomp()
    ctx = lib.seccomp_init(_SCMP_ACT_ALLOW)
    if not ctx:
        raise SeccompUnavailable("seccomp_init failed")
    deny = _scmp_act_errno(errno.EPERM)
    try:
        for name in DENIED_SYSCALLS:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr == _NR_SCMP_ERROR:
                continue
            _check(lib.seccomp_rule_add_array(ctx, deny, nr, 0, None), f"rule for {name}")
        ioctl_nr = lib.seccomp_syscall_resolve_name(b"ioctl")
        for request in DENIED_IOCTLS:
            # Compare only the low 32 bits: the kernel truncates the request to an int,
            # so a program could otherwise pass TIOCSTI with high bits set.
            cmp = _ScmpArgCmp(1, _SCMP_CMP_MASKED_EQ, 0xFFFFFFFF, request)
            _check(lib.seccomp_rule_add_array(ctx, deny, ioctl_nr, 1, ctypes.byref(cmp)),
                   "ioctl rule")
        # A memfd rather than a pipe: export writes the whole program before we read it.
        fd = os.memfd_create("lms-sandbox-seccomp-export", os.MFD_CLOEXEC)
        try:
            _check(lib.seccomp_export_bpf(ctx, fd), "export")
            program = os.pread(fd, os.fstat(fd).st_size, 0)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)
    if not program or len(program) % 8:
        raise SeccompUnavailable("libseccomp exported an empty or malformed filter")
    return program


def filter_fd() -> int:
    """A fresh memfd holding the filter, positioned at 0, for ``bwrap --seccomp``.

    bwrap reads the descriptor to its end, so every run needs its own. The caller closes it.
    """
    fd = os.memfd_create("lms-sandbox-seccomp", os.MFD_CLOEXEC)
    os.write(fd, compiled_filter())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
