"""Confinement of code we did not write, enforced by the operating system's kernel: seccomp-bpf.

A process that is about to run untrusted code calls `confine()` once, first. From then on the Linux kernel
checks every system call the process makes against a filter, and kills the process (SIGSYS) when it asks for
something on the list below. A filter can never be removed or loosened, by the process or anything it starts,
so no Python trick (patching a module, reaching a hook through `gc`, `ctypes`) lifts it: the check happens in
the kernel, below Python. What the filter refuses:

- **new processes and programs**: fork, vfork, clone without CLONE_THREAD (threads are allowed), execve;
- **the network**: creating a socket of any kind;
- **other processes**: signals to any process, ptrace, reading or writing another process's memory, and
  changing another process's limits, priority or CPU;
- **files**: opening a file for writing, creating or truncating, and every call that deletes, renames, links,
  makes a node or folder, or changes a file's mode, owner, extended attributes or times; locks; shared memory
  and message queues that outlive the process;
- **the machine**: mounting, namespaces, modules, BPF, io_uring (which can open files behind the filter's back),
  keyrings, reboot, swap, the clock.

Why seccomp (through libseccomp, bound by `pyseccomp`) and not the alternatives: it needs no privileges, no
namespaces and no setuid helper, and it works inside the containers that Colab and most CI machines are (Docker
allows a process to add its own filter). Landlock could confine paths finely, but it is not enabled on every
kernel; bubblewrap needs user namespaces, which containers usually forbid. The price of seccomp is coarseness:
it cannot see paths, so a confined process may write no file at all (it still reads, and it prints to its pipes).
It cannot limit memory or time either: `limit_resources` sets the kernel's resource limits beside it.

Where the filter cannot be loaded (macOS, Windows, a kernel without seccomp, no libseccomp), `confinement_problem`
says why, and callers refuse to run untrusted code unless the user opts in.
"""

from __future__ import annotations

import errno
import functools
import os
import sys

CLONE_THREAD = 0x00010000
_WRITE_FLAGS = (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND, getattr(os, "O_TMPFILE", 0))

# Refused outright, grouped as the module's docstring lists them. A name this machine's kernel lacks is skipped.
FORBIDDEN = {
    "new processes": ("fork", "vfork", "execve", "execveat"),
    "the network": ("socket", "socketpair"),
    "other processes": ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_open",
                        "pidfd_send_signal", "pidfd_getfd", "ptrace", "process_vm_readv", "process_vm_writev",
                        "process_madvise", "setpriority", "ioprio_set", "sched_setaffinity", "sched_setscheduler",
                        "sched_setparam", "setrlimit", "move_pages", "migrate_pages", "kcmp"),
    "files": ("creat", "open_by_handle_at", "name_to_handle_at", "unlink", "unlinkat", "rmdir", "mkdir", "mkdirat",
              "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod",
              "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat", "mknod", "mknodat", "setxattr",
              "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "utime", "utimes",
              "utimensat", "futimesat", "truncate", "ftruncate", "fallocate", "flock", "memfd_create", "mq_open",
              "shmget", "semget", "msgget", "inotify_init", "inotify_init1", "fanotify_init", "acct", "quotactl"),
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
        return f"libseccomp could not be loaded ({type(error).__name__}: {error}); on Debian or Ubuntu: apt install libseccomp2"
    return None


def _seccomp():
    """The libseccomp binding, imported on first use (it loads the C library)."""
    import pyseccomp
    pyseccomp.SyscallFilter(pyseccomp.ALLOW)  # fails here, not later, when the library is missing
    return pyseccomp


def confine() -> None:
    """Load the kernel filter described in the module's docstring into this process, for good."""
    seccomp = _seccomp()
    kill = seccomp.KILL_PROCESS
    rules = seccomp.SyscallFilter(seccomp.ALLOW)

    def refuse(action: int, name: str, *args) -> None:
        if seccomp.resolve_syscall(seccomp.Arch.NATIVE, name) >= 0:  # negative: no such call on this kernel
            rules.add_rule(action, name, *args)

    for names in FORBIDDEN.values():
        for name in names:
            refuse(kill, name)
    refuse(kill, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))  # a process, not a thread
    refuse(seccomp.ERRNO(errno.ENOSYS), "clone3")  # its flags sit in memory the filter cannot read: the C library
    refuse(seccomp.ERRNO(errno.ENOSYS), "openat2")  # then falls back to clone and openat, which the filter checks
    for flag in filter(None, _WRITE_FLAGS):
        refuse(kill, "open", seccomp.Arg(1, seccomp.MASKED_EQ, flag, flag))
        refuse(kill, "openat", seccomp.Arg(2, seccomp.MASKED_EQ, flag, flag))
    refuse(kill, "prlimit64", seccomp.Arg(2, seccomp.NE, 0))  # setting a limit; reading one (NULL) is allowed
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
