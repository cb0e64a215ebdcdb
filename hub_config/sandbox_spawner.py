"""The embedded default spawner: each student's server under bubblewrap.

The hub runs as root. For every student server it prepares a home folder owned by the
student's own unprivileged uid and a cgroup with memory/CPU/process limits, then starts
``bwrap`` (as root, so it can bind the interpreter from a root-only path) which builds a
private mount, pid, ipc and uts namespace and finally drops to the student's uid with
``setpriv`` (no capabilities, no_new_privs). Network stays shared: the proxy must reach
the server on 127.0.0.1.

What the student sees: the whole system read-only; ``/home`` holding only their own home
(writable); private ``/tmp``, ``/run`` and ``/root``; the LMS data folder (database, other
homes, cookie secret) replaced by an empty tmpfs; only their own processes in ``/proc``.
"""
from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Integer, Unicode

from .cgroups import StudentCgroup, parse_bytes
from .homes import StudentHome, parse_limit
from .settings import HubSettings

SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
STAFF_GROUPS = ("instructors", "lms-admins")
STUDENT_DISABLED_EXTENSIONS = {"nbgrader.server_extensions.formgrader": False,
                               "nbgrader.server_extensions.course_list": False,
                               "jupyter_lsp": False}
# students' extra Jupyter configuration (labconfig/page_config.json)
STUDENT_JUPYTER_CONFIG = Path(__file__).resolve().parent.parent / "lms_extension" / "labserver" / "etc" / "student"
# replaced by empty private folders in every student's view
MASKED = ("/tmp", "/var/tmp", "/run", "/root")


def runtime_paths() -> list[Path]:
    """Folders the student's server runs from: the interpreter, the venv, this checkout."""
    import lms_extension

    return [Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
            Path(lms_extension.__file__).resolve().parent.parent]


def _top_under_masked(path: Path) -> Path | None:
    for masked in MASKED:
        root = Path(masked)
        if root in path.parents:
            return root / path.relative_to(root).parts[0]
    return None


class SandboxSpawner(LocalProcessSpawner):
    uid_base = Integer(20000, help="Student uid = uid_base + JupyterHub user id.").tag(config=True)
    homes_dir = Unicode(help="Folder holding one home folder per student.").tag(config=True)
    hidden_dirs = Unicode("", help="Extra folders (os.pathsep-separated) hidden from students.").tag(config=True)
    mem_limit_text = Unicode("1G", help="Memory limit of a student's server (bytes, K, M, G).").tag(config=True)
    disk_limit_text = Unicode("2G", help="Size of a student's home (LMS_DISK_LIMIT; 0 or none: no limit).").tag(config=True)
    cpu_limit_value = Unicode("1.0", help="CPU limit of a student's server, in cores.").tag(config=True)

    @property
    def student_uid(self) -> int:
        return self.uid_base + self.user.id

    @property
    def home_name(self) -> str:
        name = self.user.name
        return name if SAFE_NAME.match(name) else f"user-{self.user.id}"

    @property
    def home_inside(self) -> str:
        return f"/home/{self.home_name}"

    @property
    def home_outside(self) -> Path:
        return Path(self.homes_dir) / self.home_name

    @property
    def cgroup(self) -> StudentCgroup:
        return StudentCgroup(f"u{self.user.id}", memory_bytes=parse_bytes(self.mem_limit_text),
                             cpu=float(self.cpu_limit_value))

    @property
    def home(self) -> StudentHome:
        return StudentHome(self.home_outside, uid=self.student_uid, limit=parse_limit(self.disk_limit_text))

    def make_home(self) -> None:
        # owned by the student's uid, mode 0700, and with LMS_DISK_LIMIT an ext4 image of that
        # size mounted on it, so a full home is ENOSPC for this student only
        self.home.prepare()

    def user_env(self, env):
        env.update(HOME=self.home_inside, USER=self.home_name, LOGNAME=self.home_name, SHELL="/bin/bash",
                   PATH=f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin")
        if not any(group.name in STAFF_GROUPS for group in self.user.groups):
            # JupyterLab without nbgrader's instructor plugins (the Assignments panel and Validate stay)
            env["JUPYTER_CONFIG_PATH"] = str(STUDENT_JUPYTER_CONFIG)
        return env

    def make_preexec_fn(self, name):
        cgroup = self.cgroup

        def preexec():
            # runs in the child as root, before exec'ing bwrap: every descendant inherits the group
            cgroup.join()

        return preexec

    def bwrap_argv(self) -> list[str]:
        uid = str(self.student_uid)
        argv = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", "--hostname", f"lms-{self.home_name}",
                "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        argv += [arg for d in MASKED for arg in ("--tmpfs", d)]
        # what the server runs from may live under a masked folder (pyenv under /root, a
        # checkout under /tmp): bind its top folder back, read-only. (Binding a deeper path
        # would make bwrap create the parents with mode 0700, unreadable to the student.)
        for top in sorted({_top_under_masked(p) for p in runtime_paths()} - {None}):
            argv += ["--ro-bind", str(top), str(top)]
        # then hide the LMS data (database, other homes, secrets), wherever it lives
        hidden = [str(Path(self.homes_dir).resolve().parent)] + [d for d in self.hidden_dirs.split(os.pathsep) if d]
        for path in hidden:
            argv += ["--tmpfs", path]
        argv += ["--tmpfs", "/home", "--bind", str(self.home_outside), self.home_inside,
                 "--chdir", self.home_inside, "--",
                 shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}",
                 "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
        return argv

    def get_args(self):
        args = super().get_args()
        if not any(group.name in STAFF_GROUPS for group in self.user.groups):
            # students need neither nbgrader's instructor tools nor the language server;
            # not loading them takes about half a second off every server start
            args.append(f"--ServerApp.jpserver_extensions={STUDENT_DISABLED_EXTENSIONS!r}")
        return args

    async def start(self):
        self.make_home()
        cgroup = self.cgroup
        cgroup.create()
        self.cmd = self.bwrap_argv() + [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
        return await super().start()

    async def stop(self, now=False):
        await super().stop(now=now)
        cgroup = self.cgroup
        cgroup.kill_all()  # anything the student left running (daemons included)
        cgroup.remove()
        self.home.release()  # nothing of the student runs any more: unmount the home image


def configure(c, settings: HubSettings) -> None:
    c.JupyterHub.spawner_class = SandboxSpawner
    c.SandboxSpawner.homes_dir = str(settings.homes_dir)
    c.SandboxSpawner.mem_limit_text = settings.mem_limit
    c.SandboxSpawner.disk_limit_text = settings.disk_limit
    c.SandboxSpawner.cpu_limit_value = str(settings.cpu_limit)
    c.SandboxSpawner.hidden_dirs = os.pathsep.join(
        d for d in ("/var/lib/postgresql", "/var/lib/docker", "/etc/ssl/private") if Path(d).exists())
    # a clean environment: nothing from the hub's environment but these
    c.Spawner.env_keep = ["LANG", "LC_ALL", "TZ"]
    settings.homes_dir.mkdir(parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)
