"""Confinement of code we did not write, enforced by the operating system's kernel: seccomp-bpf and Landlock.

A process about to run untrusted code calls `confine()` once, first. From then on the Linux kernel kills it (SIGSYS)
when it asks for a new process or program, a socket, a signal to another process, any change to a file or to the
machine (`FORBIDDEN`). A filter can never be removed or loosened, so no Python trick (patching a module, `ctypes`)
lifts it: the check happens in the kernel, below Python.

Why seccomp (through `pyseccomp`): it needs no privileges, namespaces or setuid helper, and it works inside the
containers that Colab and most CI machines are; Landlock is not enabled on every kernel, and bubblewrap needs user
namespaces, which containers usually forbid. Its price: it cannot see paths, so a confined process writes no file
at all, and it cannot limit memory or time (`limit_resources` does).

A graded notebook's kernel must write files, so it gets Landlock beside the filter (`confine_kernel`): it reads and
changes files only in the folders it needs. Where the kernel cannot confine (macOS, Windows, no seccomp or
libseccomp), `confinement_problem` says why, and callers refuse to run untrusted code unless the user opts in.
"""

from __future__ import annotations

import errno
import functools
import os
import signal
import sys

CLONE_THREAD = 0x00010000
OUTPUT_LIMIT = 2**20  # what is kept of an untrusted program's output (per stream, or per graded notebook)
_WRITE_FLAGS = (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND, getattr(os, "O_TMPFILE", 0))

# Refused outright, by group. A name this machine's kernel lacks is skipped.
FORBIDDEN = {
    "new processes": ("fork", "vfork", "execve", "execveat"),
    "the network": ("socket", "socketpair"),
    "other processes": ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_open",
                        "pidfd_send_signal", "pidfd_getfd", "ptrace", "process_vm_readv", "process_vm_writev",
                        "process_madvise", "setpriority", "ioprio_set", "sched_setaffinity", "sched_setscheduler",
                        "sched_setparam", "setrlimit", "move_pages", "migrate_pages", "kcmp"),
    "changing files": ("creat", "open_by_handle_at", "name_to_handle_at", "unlink", "unlinkat", "rmdir", "mkdir",
                       "mkdirat", "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "mknod",
                       "mknodat", "truncate", "ftruncate", "fallocate"),
    "files' attributes and shared state": ("chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown",
                                           "fchownat", "setxattr", "lsetxattr", "fsetxattr", "removexattr",
                                           "lremovexattr", "fremovexattr", "utime", "utimes", "utimensat", "futimesat",
                                           "flock", "memfd_create", "mq_open", "shmget", "semget", "msgget",
                                           "inotify_init", "inotify_init1", "fanotify_init", "acct", "quotactl"),
    # io_uring is refused because it can open files behind the filter's back
    "the machine": ("mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "init_module", "finit_module",
                    "delete_module", "kexec_load", "bpf", "perf_event_open", "io_uring_setup", "io_uring_enter",
                    "io_uring_register", "userfaultfd", "keyctl", "add_key", "request_key", "reboot", "swapon",
                    "swapoff", "sethostname", "setdomainname", "settimeofday", "clock_settime", "adjtimex",
                    "clock_adjtime", "open_tree", "move_mount", "fsopen", "fsmount", "mount_setattr"),
}


@functools.cache
def confinement_problem() -> str | None:
    """None when this machine can confine a process (Linux, seccomp, libseccomp); else why it cannot."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux's seccomp, and this is {sys.platform}"
    try:
        with open("/proc/self/status") as status:
            if not any(line.startswith("Seccomp:") for line in status):
                return "this Linux kernel was built without seccomp"
        _seccomp()
    except (OSError, ImportError, AttributeError, TypeError) as error:  # pyseccomp raises these without libseccomp
        return (f"libseccomp could not be loaded ({type(error).__name__}: {error}); on Debian or Ubuntu: "
                f"apt install libseccomp2")
    return None


def _seccomp():
    """The libseccomp binding, imported on first use (it loads the C library)."""
    import pyseccomp
    pyseccomp.SyscallFilter(pyseccomp.ALLOW)  # fails here, not later, when the library is missing
    return pyseccomp


def confine(for_a_kernel: bool = False) -> None:
    """Load the kernel filter (`FORBIDDEN`) into this process, for good. `for_a_kernel` (a graded Jupyter kernel,
    after `restrict_paths`): changing files is left to Landlock, signals to itself stay allowed, and a refused call
    fails with EPERM (a PermissionError) instead of ending the process, so that the kernel lives on to run checks."""
    seccomp = _seccomp()
    refused = seccomp.ERRNO(errno.EPERM) if for_a_kernel else seccomp.KILL_PROCESS
    rules = seccomp.SyscallFilter(seccomp.ALLOW)

    def refuse(action: int, name: str, *args) -> None:
        if seccomp.resolve_syscall(seccomp.Arch.NATIVE, name) >= 0:  # negative: no such call on this kernel
            rules.add_rule(action, name, *args)

    left_to_landlock = {"changing files"} if for_a_kernel else set()
    signals_to_self = {"kill", "tgkill"} if for_a_kernel else set()
    allowed_to_a_kernel = {"flock"} if for_a_kernel else set()  # the cache's and the ledger's file locks
    for group, names in FORBIDDEN.items():
        for name in names:
            if group not in left_to_landlock and name not in signals_to_self | allowed_to_a_kernel:
                refuse(refused, name)
    for name in signals_to_self:  # allowed to this process only: both take its id first
        refuse(refused, name, seccomp.Arg(0, seccomp.NE, os.getpid()))
    refuse(refused, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))  # a process, not a thread
    refuse(seccomp.ERRNO(errno.ENOSYS), "clone3")  # its flags sit in memory the filter cannot read: the C library
    refuse(seccomp.ERRNO(errno.ENOSYS), "openat2")  # then falls back to clone and openat, which the filter checks
    for flag in filter(None, _WRITE_FLAGS if not for_a_kernel else ()):
        refuse(refused, "open", seccomp.Arg(1, seccomp.MASKED_EQ, flag, flag))
        refuse(refused, "openat", seccomp.Arg(2, seccomp.MASKED_EQ, flag, flag))
    refuse(refused, "prlimit64", seccomp.Arg(2, seccomp.NE, 0))  # setting a limit; reading one (NULL) is allowed
    rules.load()


def limit_resources(cpu_seconds: int, memory_mb: int, open_files: int = 64) -> None:
    """Kernel limits for this process and its threads: CPU time, address space, open files, no core dumps and
    files of 0 bytes. A limit this OS does not enforce (macOS: address space) is skipped."""
    import resource
    for limit, value in ((resource.RLIMIT_CPU, cpu_seconds), (resource.RLIMIT_AS, memory_mb * 2**20),
                         (resource.RLIMIT_NOFILE, open_files), (resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_CORE, 0)):
        hard = resource.getrlimit(limit)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)  # a limit is only ever lowered
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            if sys.platform.startswith("linux"):
                raise


# Landlock (Linux 5.13+): which files a process may read and write, by folder. Access rights of the ABI versions.
_LANDLOCK_READ = 1 << 0 | 1 << 2 | 1 << 3  # execute, read a file, read a folder
_LANDLOCK_FS = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}  # ABI: every right it knows
_LANDLOCK_SCOPE_SIGNAL_AND_ABSTRACT_SOCKETS = 0b11  # ABI 6: no signal or abstract socket leaves the domain
_SYS_LANDLOCK = {"create_ruleset": 444, "add_rule": 445, "restrict_self": 446}  # the same on every architecture


def landlock_abi() -> int:
    """The Landlock ABI version this kernel offers; 0 when it has none (or this is not Linux)."""
    if not sys.platform.startswith("linux"):
        return 0
    import ctypes
    version = ctypes.CDLL(None, use_errno=True).syscall(_SYS_LANDLOCK["create_ruleset"], None, 0, 1)
    return max(version, 0)


def restrict_paths(readable: list[str], writable: list[str]) -> int:
    """Let this process, for good, read only below `readable` and write (create, delete, rename...) only below
    `writable` (Landlock), and on ABI 6+ signal no process outside itself. Returns the ABI used; 0: unavailable."""
    import ctypes
    abi = landlock_abi()
    if abi == 0:
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    handled = _LANDLOCK_FS[max(v for v in _LANDLOCK_FS if v <= abi)]

    class Ruleset(ctypes.Structure):
        _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                    ("scoped", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    net = 0b11 if abi >= 4 else 0  # bind and connect TCP: handled, never allowed
    scoped = _LANDLOCK_SCOPE_SIGNAL_AND_ABSTRACT_SOCKETS if abi >= 6 else 0
    ruleset = Ruleset(handled, net, scoped)
    size = ctypes.sizeof(Ruleset) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset_fd = libc.syscall(_SYS_LANDLOCK["create_ruleset"], ctypes.byref(ruleset), size, 0)
    if ruleset_fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for paths, rights in ((readable, _LANDLOCK_READ), (writable, handled)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except FileNotFoundError:
                    continue
                try:
                    is_dir = os.path.isdir(path)
                    rule = PathBeneath(rights if is_dir else rights & (1 << 0 | 1 << 1 | 1 << 2 | 1 << 14), fd)
                    if libc.syscall(_SYS_LANDLOCK["add_rule"], ruleset_fd, 1, ctypes.byref(rule), 0) != 0:
                        raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
                finally:
                    os.close(fd)
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS, which Landlock requires
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(_SYS_LANDLOCK["restrict_self"], ruleset_fd, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset_fd)
    return abi


def kernel_confinement_problem() -> str | None:
    """None when a graded notebook's kernel can be confined here (seccomp and Landlock); else why not."""
    return confinement_problem() or (None if landlock_abi() else
                                     "this Linux kernel has no Landlock (Linux 5.13+ with the LSM enabled)")


def confine_kernel(readable: list[str], writable: list[str]) -> None:
    """Confine a running Jupyter kernel before a learner's first cell: it may read only below `readable`, change
    files only below `writable`, and otherwise obeys the filter of `confine` (no processes, programs or sockets;
    its sockets to the grader were opened before)."""
    _seccomp()  # loaded first: finding the C library reads folders the kernel will not read again
    if not restrict_paths(readable, writable):
        raise RuntimeError("this Linux kernel has no Landlock: the kernel cannot be confined")
    confine(for_a_kernel=True)


def kill_group(group: int) -> bool:
    """SIGKILL every process of the process group `group`; False when there was none to kill."""
    try:
        os.killpg(group, signal.SIGKILL)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def become_subreaper() -> None:
    """Adopt this process's orphaned descendants (PR_SET_CHILD_SUBREAPER), so that `kill_left_behind` finds those
    that left their session or were double-forked; Linux only."""
    if sys.platform.startswith("linux"):
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # 36: PR_SET_CHILD_SUBREAPER


def kill_left_behind(already_running: set[int]) -> None:
    """Kill every descendant of this process not in `already_running`: what untrusted code left running."""
    import psutil
    for _ in range(10):  # a process may fork while its siblings are killed: until none is left
        left = [child for child in psutil.Process().children(recursive=True) if child.pid not in already_running]
        if not left:
            return
        for process in left:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(left, timeout=5)
