"""Hostile submissions across the languages.

Each one must end with the right status within its limits; the conftest fixture then
checks that no process, cgroup, mount or scratch file of any run is left on the host, and
the fixture below that the sandbox still runs a normal program afterwards.
"""

import asyncio
import dataclasses
import hashlib
import os
import secrets
import socket
import time
from pathlib import Path

import pytest

from sandbox_helpers import C, CPP, JAVA, JAVASCRIPT, PYTHON, TIGHT, assert_still_works, processes_with
from graders.judging import Status

# Anything a run is allowed: its limits plus the kill's grace and the bwrap start-up.
DEADLINE = TIGHT.wall_time + TIGHT.cpu_extra_time + 1.0


@pytest.fixture(autouse=True)
def sandbox_still_works(sandbox):
    yield
    assert_still_works(sandbox)


def run(sandbox, source, language, **options):
    options.setdefault("limits", TIGHT)
    started = time.monotonic()
    result = sandbox.run(source, language, **options)
    assert time.monotonic() - started < DEADLINE + 3  # compile time included
    assert result.wall_time is None or result.wall_time < DEADLINE, result
    return result


def fingerprint(path: str) -> tuple:
    info = os.lstat(path)
    return (info.st_mode, info.st_uid, info.st_gid, info.st_nlink,
            hashlib.sha256(Path(path).read_bytes()).hexdigest())


# --- processes ------------------------------------------------------------------------
def test_fork_bomb_c(sandbox):
    result = run(sandbox, "#include <unistd.h>\nint main(void) { for (;;) fork(); }", C)
    # capped at max_processes, the children spin until the CPU limit -- unless the kernel
    # memory of the forks (page tables, stacks) reaches the memory limit first and the OOM
    # killer ends it (even bubblewrap's monitor: still a memory limit, not a sandbox failure)
    assert result.status in (Status.TIME_LIMIT_EXCEEDED, Status.MEMORY_LIMIT_EXCEEDED), result


def test_fork_bomb_python(sandbox):
    program = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    # capped at max_processes, the children spin until the CPU limit -- unless their
    # combined memory reaches the limit first (it depends on how fast the host forks)
    result = run(sandbox, program, PYTHON)
    assert result.status in (Status.TIME_LIMIT_EXCEEDED, Status.MEMORY_LIMIT_EXCEEDED), result


def test_thread_bomb_java(sandbox):
    program = ("public class Main { public static void main(String[] a) {\n"
               "  for (int i = 0; ; i++) { Thread t = new Thread(() -> {\n"
               "    try { Thread.sleep(60000); } catch (InterruptedException e) {} });\n"
               "    t.setDaemon(true); t.start(); } } }")
    result = run(sandbox, program, JAVA, limits=dataclasses.replace(TIGHT, memory=128_000))
    # The JVM cannot create the thread: "unable to create native thread", exit 3.
    assert result.status is Status.RUNTIME_ERROR, result
    assert b"unable to create native thread" in result.stdout + result.stderr


def test_thread_bomb_cpp(sandbox):
    program = ("#include <thread>\n#include <chrono>\n#include <vector>\n#include <cstdio>\n"
               "int main() { std::vector<std::thread> v; for (;;) v.emplace_back([] {\n"
               "  std::this_thread::sleep_for(std::chrono::seconds(60)); }); }")
    result = run(sandbox, program, CPP)
    assert (result.status, result.signal) == (Status.RUNTIME_ERROR, "SIGABRT"), result


def test_memory_bomb_spread_over_children(sandbox):
    program = ("import os, time\nfor _ in range(4):\n    if os.fork() == 0:\n"
               "        block = bytearray(30 << 20)\n"
               "        block[::4096] = b'x' * len(block[::4096])\n"
               "        time.sleep(2)\n        os._exit(0)\n"
               "for _ in range(4):\n    os.wait()\nprint('survived')")
    result = run(sandbox, program, PYTHON)  # 4 x 30 MB against 64 MB
    assert result.status is Status.MEMORY_LIMIT_EXCEEDED, result


def test_memory_bomb_javascript_buffers(sandbox):
    # Buffers live outside the V8 heap: only the cgroup stops this one.
    program = "const a = []; for (;;) a.push(Buffer.alloc(8 << 20, 1));"
    result = run(sandbox, program, JAVASCRIPT, limits=dataclasses.replace(TIGHT, memory=96_000))
    assert result.status is Status.MEMORY_LIMIT_EXCEEDED, result


def test_busy_loop_javascript(sandbox):
    result = run(sandbox, "for (;;) {}", JAVASCRIPT)
    assert result.status is Status.TIME_LIMIT_EXCEEDED
    assert result.time > TIGHT.cpu_time


def test_sleep_past_wall_limit_java(sandbox):
    program = ("public class Main { public static void main(String[] a) throws Exception {\n"
               "  Thread.sleep(60000); } }")
    result = run(sandbox, program, JAVA, limits=dataclasses.replace(TIGHT, memory=128_000))
    assert result.status is Status.TIME_LIMIT_EXCEEDED
    assert result.message == "Time limit exceeded (wall clock)"


def test_zombie_flood(sandbox):
    program = ("#include <unistd.h>\n#include <stdio.h>\n"
               "int main(void) { int made = 0;\n"
               "  for (int i = 0; i < 1000; i++) { pid_t p = fork(); if (p == 0) _exit(0);\n"
               "    if (p > 0) made++; }\n"
               "  sleep(1); printf(\"%d\\n\", made); return 0; }")
    result = run(sandbox, program, C)
    assert result.status is Status.ACCEPTED, result
    # Unreaped children keep their pids: the process limit stops the flood.
    assert 0 < int(result.stdout) < TIGHT.max_processes


def test_setsid_daemon_does_not_outlive_the_run(sandbox):
    marker = f"lms-daemon-{secrets.token_hex(6)}"
    program = ("import subprocess\n"
               "subprocess.Popen(['python3', '-c', 'import time; time.sleep(600)', "
               f"'{marker}'], start_new_session=True)\nprint('left a daemon')")
    result = run(sandbox, program, PYTHON)
    assert result.status is Status.ACCEPTED
    assert processes_with(marker) == []


def test_double_fork_daemon_does_not_outlive_the_run(sandbox):
    marker = f"lms-double-fork-{secrets.token_hex(6)}"
    program = ("#include <unistd.h>\n#include <stdlib.h>\n"
               "int main(void) {\n"
               "  if (fork() == 0) { if (fork() == 0) { setsid(); close(0); close(1); close(2);\n"
               f"      execl(\"/bin/sleep\", \"{marker}\", \"600\", (char *)0); }}\n"
               "    _exit(0); }\n"
               "  return 0; }")
    result = run(sandbox, program, C)
    assert result.status is Status.ACCEPTED, result
    assert processes_with(marker) == []


def test_killing_the_parent_and_pid_1(sandbox):
    program = ("import os, signal\nfor pid in (os.getppid(), 1):\n"
               "    try:\n        os.kill(pid, signal.SIGKILL)\n"
               "    except OSError as e:\n        print('refused', e.errno)\n"
               "print('alive')")
    result = run(sandbox, program, PYTHON)
    # The namespace's init ignores signals from inside: the run simply goes on.
    assert result.status is Status.ACCEPTED and result.stdout.endswith(b"alive\n")


# --- output, disk -----------------------------------------------------------------------
def test_output_flood_c(sandbox):
    program = "#include <stdio.h>\nint main(void) { for (;;) puts(\"flood\"); }"
    result = run(sandbox, program, C)
    assert (result.status, result.signal) == (Status.RUNTIME_ERROR, "SIGXFSZ")
    assert len(result.stdout) == TIGHT.max_file_size * 1024


def test_output_flood_on_stderr_python(sandbox):
    result = run(sandbox, "import sys\nwhile True:\n    sys.stderr.write('x' * 4096)", PYTHON)
    assert (result.status, result.signal) == (Status.RUNTIME_ERROR, "SIGXFSZ")
    assert len(result.stderr) == TIGHT.max_file_size * 1024


def test_disk_fill(sandbox):
    program = ("import os\nwritten = 0\ntry:\n    for i in range(10**6):\n"
               "        with open(f'/box/f{i}', 'wb') as f:\n"
               "            f.write(b'x' * (200 << 10))\n        written += 200 << 10\n"
               "except OSError as e:\n    print(e.errno, written)")
    result = run(sandbox, program, PYTHON, limits=dataclasses.replace(TIGHT, memory=128_000))
    assert result.status is Status.ACCEPTED, result
    errno_, written = map(int, result.stdout.split())
    assert errno_ == 28  # ENOSPC: the run's tmpfs is full, nothing else is
    assert written <= sandbox.config.scratch_bytes


def test_inode_fill(sandbox):
    program = ("made = 0\ntry:\n    while True:\n        open(f'/tmp/i{made}', 'w').close()\n"
               "        made += 1\nexcept OSError as e:\n    print(e.errno, made)")
    result = run(sandbox, program, PYTHON)
    errno_, made = map(int, result.stdout.split())
    assert errno_ == 28 and made <= sandbox.config.scratch_inodes


# --- filesystem -------------------------------------------------------------------------
def test_writes_outside_the_sandbox_fail(sandbox, tmp_path):
    host_tmp_marker = f"/tmp/lms-escape-{secrets.token_hex(6)}"
    targets = ["/usr/escape", "/etc/escape", "/escape", "/work/main/escape", "/root/escape",
               "/proc/escape", "/dev/escape", str(tmp_path / "escape")]
    program = ("import sys\nfor path in sys.argv[1:]:\n    try:\n"
               "        open(path, 'w').write('x')\n        print('WROTE', path)\n"
               "    except OSError as e:\n        print('denied', path, e.errno)\n"
               f"open('{host_tmp_marker}', 'w').write('only in the private /tmp')\n")
    result = run(sandbox, program, PYTHON, arguments=targets)
    assert result.status is Status.ACCEPTED, result
    assert b"WROTE" not in result.stdout
    assert not os.path.exists(host_tmp_marker)
    assert not any(os.path.exists(t) for t in targets)


def test_secret_host_files_are_not_there(sandbox):
    program = ("import os\nfor path in ['/etc/shadow', '/root', '/home', '/work', '/var/lib/postgresql',\n"
               "             '/run/lms-sandbox', '/sys/fs/cgroup', '/proc/1/root/etc/shadow']:\n"
               "    print(path, os.path.exists(path))")
    result = run(sandbox, program, PYTHON)
    assert result.status is Status.ACCEPTED
    assert b"True" not in result.stdout, result.stdout


def test_symlink_planting(sandbox):
    before = {path: fingerprint(path) for path in ("/etc/passwd", "/etc/shadow")}
    # Names a judging host might open, chmod or delete afterwards, pointing at host files.
    program = ("import os\n"
               "for name, target in [('stdout.txt', '/etc/shadow'), ('a.out', '/etc/passwd'),\n"
               "                     ('Main.class', '/etc'), ('box', '/'), ('tmp', '/work')]:\n"
               "    if not os.path.lexists(name):\n        os.symlink(target, name)\n"
               "for name in ['/tmp/shadow', '/dev/shm/work']:\n"
               "    if not os.path.lexists(name):\n        os.symlink('/etc/shadow', name)\n"
               "os.chmod('.', 0o777)\nprint(sorted(os.listdir('.')))")
    # Several runs: the host keeps working with the workspace between them.
    result = run(sandbox, program, PYTHON, number_of_runs=3)
    assert result.status is Status.ACCEPTED, result
    assert b"'a.out'" in result.stdout
    assert {path: fingerprint(path) for path in before} == before


def test_hardlink_planting(sandbox):
    before = fingerprint("/usr/bin/python3.11")
    program = ("import os\nfor target in ['/usr/bin/python3.11', '/etc/passwd', '/etc/ld.so.cache']:\n"
               "    try:\n        os.link(target, '/box/hard')\n        print('LINKED', target)\n"
               "    except OSError as e:\n        print('refused', target, e.errno)")
    result = run(sandbox, program, PYTHON)
    assert result.status is Status.ACCEPTED
    assert b"LINKED" not in result.stdout, result.stdout
    assert fingerprint("/usr/bin/python3.11") == before


def test_reading_another_concurrent_runs_files(sandbox):
    secret = secrets.token_hex(16)
    writer = ("import time, sys\nsecret = sys.stdin.read()\n"
              "for path in ['/box/secret.txt', '/tmp/secret.txt', '/dev/shm/secret']:\n"
              "    open(path, 'w').write(secret)\n"
              "print('written', flush=True)\ntime.sleep(1.5)")
    # Searches every file it can reach while the writer is still running (not /proc,
    # where its own stdin is, nor device files, some of which block on read).
    reader = ("import itertools, os, sys, time\ntime.sleep(0.5)\nsecret = sys.stdin.read().encode()\n"
              "found = []\nskip = {'/proc', '/usr', '/dev'}\n"
              "for root, dirs, files in itertools.chain(os.walk('/'), os.walk('/dev/shm')):\n"
              "    dirs[:] = [d for d in dirs if os.path.join(root, d) not in skip]\n"
              "    for f in files:\n        try:\n"
              "            if secret in open(os.path.join(root, f), 'rb').read(1 << 16):\n"
              "                found.append(os.path.join(root, f))\n"
              "        except OSError:\n            pass\n"
              "print(found, sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))")

    async def both():
        return await asyncio.gather(
            sandbox.run_async(writer, PYTHON, stdin=secret, limits=TIGHT),
            sandbox.run_async(reader, PYTHON, stdin=secret, limits=TIGHT))

    written, read = asyncio.run(both())
    assert written.stdout == b"written\n" and read.status is Status.ACCEPTED, (written, read)
    assert read.stdout == b"[] [1, 2]\n"  # nothing found; only its own init and itself


def test_proc_shows_no_host_processes(sandbox, monkeypatch):
    monkeypatch.setenv("LMS_FAKE_SECRET", "hunter2-in-the-parent")
    program = ("import os\nseen = []\nfor pid in os.listdir('/proc'):\n"
               "    if pid.isdigit():\n        try:\n"
               "            seen.append(open(f'/proc/{pid}/cmdline', 'rb').read()\n"
               "                        + open(f'/proc/{pid}/environ', 'rb').read())\n"
               "        except OSError:\n            pass\n"
               "print(len(seen), b'hunter2' in b''.join(seen), b'pytest' in b''.join(seen))")
    result = run(sandbox, program, PYTHON)
    count, secret_seen, pytest_seen = result.stdout.split()
    assert int(count) <= 3 and secret_seen == b"False" and pytest_seen == b"False"


def test_sys_is_not_mounted(sandbox):
    program = ("import os\nfor path in ['/sys', '/sys/fs/cgroup', '/sys/class/net']:\n"
               "    print(path, os.path.exists(path))")
    assert b"True" not in run(sandbox, program, PYTHON).stdout


def test_environment_dump(sandbox, monkeypatch):
    monkeypatch.setenv("LMS_FAKE_SECRET", "hunter2-in-the-parent")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2-aws")
    program = "const e = process.env; console.log(JSON.stringify(Object.keys(e).sort()), JSON.stringify(e));"
    result = run(sandbox, program, JAVASCRIPT)
    assert result.status is Status.ACCEPTED
    keys, _ = result.stdout.decode().split(" ", 1)
    assert keys == '["HOME","LANG","PATH","PWD"]'  # PWD: bwrap's --chdir
    assert b"hunter2" not in result.stdout


# --- network ----------------------------------------------------------------------------
def test_network_is_unreachable(sandbox):
    # Real listeners on the host's loopback: nothing from the sandbox may reach them.
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    tcp.setblocking(False)
    udp.setblocking(False)
    # The program refuses to send anything unless its namespace really has no route: if
    # isolation were broken it would report that rather than emit a packet.
    program = ("import socket, sys, time\n"
               "interfaces = [l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]]\n"
               "routes = open('/proc/net/route').readlines()[1:]\n"
               "if interfaces != ['lo'] or routes:\n"
               "    print('NETWORK VISIBLE', interfaces, routes)\n    raise SystemExit(0)\n"
               "tcp_port, udp_port = int(sys.argv[1]), int(sys.argv[2])\n"
               "for host, port in [('127.0.0.1', tcp_port), ('localhost', tcp_port), ('10.255.255.1', 80)]:\n"
               "    started = time.monotonic()\n"
               "    try:\n        socket.create_connection((host, port), timeout=2)\n"
               "        print('CONNECTED', host)\n"
               "    except OSError as e:\n"
               "        print('failed', host, e.errno, round(time.monotonic() - started, 2))\n"
               "try:\n    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
               "    udp.sendto(b'x', ('127.0.0.1', udp_port))\n"
               "except OSError as e:\n    print('udp failed', e.errno)")
    with tcp, udp:
        result = run(sandbox, program, PYTHON,
                     arguments=[str(tcp.getsockname()[1]), str(udp.getsockname()[1])])
        with pytest.raises(BlockingIOError):
            tcp.accept()
        with pytest.raises(BlockingIOError):
            udp.recv(16)
    assert result.status is Status.ACCEPTED, result
    out = result.stdout.decode()
    assert "NETWORK VISIBLE" not in out and "CONNECTED" not in out
    assert out.count("failed 127.0.0.1 101") == 1  # ENETUNREACH: even loopback is down
    assert "failed 10.255.255.1 101" in out and "failed localhost" in out
    assert all(float(line.split()[-1]) < 0.5 for line in out.splitlines() if line.startswith("failed"))


# --- compile time, terminal, syscalls ----------------------------------------------------
@pytest.mark.parametrize("language, source", [
    (C, '#include "/etc/shadow"\nint main(void) { return 0; }'),
    (CPP, '#include "/etc/shadow"\n#include "/root/.bashrc"\nint main() {}'),
])
def test_compile_time_inclusion_of_host_files(sandbox, language, source):
    result = run(sandbox, source, language)
    assert result.status is Status.COMPILATION_ERROR
    assert b"No such file or directory" in result.compile_output
    shadow_lines = [line.split(b":")[0] + b":" for line in Path("/etc/shadow").read_bytes().splitlines()]
    assert not any(line in result.compile_output for line in shadow_lines if len(line) > 2)


def test_tiocsti_cannot_push_input(sandbox):
    program = ("#include <sys/ioctl.h>\n#include <fcntl.h>\n#include <stdio.h>\n#include <errno.h>\n"
               "int main(void) { char c = 'x';\n"
               "  int fds[3] = {0, 1, open(\"/dev/tty\", O_RDWR)};\n"
               "  for (int i = 0; i < 3; i++) { int r = ioctl(fds[i], TIOCSTI, &c);\n"
               "    printf(\"%d %d\\n\", r, r ? errno : 0); }\n"
               "  return 0; }")
    result = run(sandbox, program, C)
    assert result.status is Status.ACCEPTED, result
    assert all(line.startswith(b"-1 ") for line in result.stdout.splitlines())


def test_denied_syscalls(sandbox):
    program = ("#define _GNU_SOURCE\n#include <sched.h>\n#include <stdio.h>\n#include <sys/mount.h>\n"
               "#include <sys/ptrace.h>\n#include <sys/reboot.h>\n#include <unistd.h>\n"
               "#include <sys/syscall.h>\n"
               "int main(void) {\n"
               "  printf(\"mount %d\\n\", mount(\"none\", \"/tmp\", \"tmpfs\", 0, 0));\n"
               "  printf(\"unshare %d\\n\", unshare(CLONE_NEWUSER));\n"
               "  printf(\"unshare-net %d\\n\", unshare(CLONE_NEWNET));\n"
               "  printf(\"ptrace %ld\\n\", ptrace(PTRACE_ATTACH, 1, 0, 0));\n"
               "  printf(\"reboot %d\\n\", reboot(RB_AUTOBOOT));\n"
               "  printf(\"chroot %d\\n\", chroot(\"/tmp\"));\n"
               "  printf(\"bpf %ld\\n\", syscall(SYS_bpf, 0, 0, 0));\n"
               "  printf(\"sethostname %d\\n\", sethostname(\"x\", 1));\n"
               "  return 0; }")
    result = run(sandbox, program, C)
    assert result.status is Status.ACCEPTED, result
    lines = result.stdout.decode().splitlines()
    assert len(lines) == 8 and all(line.endswith(" -1") for line in lines), lines


def test_user_namespaces_cannot_be_nested_python(sandbox):
    program = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
               "print(libc.unshare(0x10000000), ctypes.get_errno(), os.getuid())")
    result = run(sandbox, program, PYTHON)
    rc, err, uid = result.stdout.split()
    assert rc == b"-1" and err == b"1" and uid == b"1000"  # EPERM; never root


# --- faking a pass --------------------------------------------------------------------
@pytest.mark.parametrize("language, program", [
    (PYTHON, "import sys\nprint('42', file=sys.stderr)"),
    (PYTHON, "import os\nos._exit(0)\nprint('42')"),
    (JAVA, "public class Main { public static void main(String[] a) {\n"
           "  System.err.println(\"42\"); System.exit(0); } }"),
    (JAVASCRIPT, "process.stderr.write('42\\n'); process.exit(0);"),
    (CPP, "#include <cstdio>\nint main() { std::fprintf(stderr, \"42\\n\"); return 0; }"),
])
def test_faking_a_pass_is_a_wrong_answer(sandbox, language, program):
    limits = dataclasses.replace(TIGHT, memory=128_000)
    result = run(sandbox, program, language, expected_output="42", limits=limits)
    assert result.status is Status.WRONG_ANSWER, result


def test_printing_the_answer_then_crashing_is_not_accepted(sandbox):
    program = "#include <stdio.h>\nint main(void) { puts(\"42\"); fflush(stdout); return 1; }"
    result = run(sandbox, program, C, expected_output="42")
    assert result.status is Status.RUNTIME_ERROR


def test_no_zombies_when_the_server_is_pid_1(sandbox):
    """In a container without an init the server is PID 1 and inherits every orphan."""
    import subprocess
    import sys

    script = ("import os, time\nfrom graders.submissions import SubmissionSandbox\n"
              "assert os.getpid() == 1\nsandbox = SubmissionSandbox()\n"
              "for _ in range(3):\n    assert sandbox.run('print(1)', 71).status.value == 'accepted'\n"
              "time.sleep(0.2)\n"
              "print([p for p in os.listdir('/proc') if p.isdigit()\n"
              "       and 'State:\\tZ' in open(f'/proc/{p}/status').read()])")
    done = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", script],
                          capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
