"""The languages the sandbox runs, one declarative entry each, with Judge0 CE's ids.

Adding a language is adding one ``Language(...)`` to ``LANGUAGES``: its Judge0 id, a
display name whose ``{version}`` is read from the installed toolchain, the source file
name, and the compile and run commands as argument lists (no shell). In those lists

* ``{options}`` expands to the submission's compiler options,
* ``{arguments}`` to its command-line arguments,
* ``{memory_options}`` to what ``memory_options(limits)`` returns: runtimes with their own
  heap (the JVM, V8) are told the limit so they fail with their own out-of-memory error
  instead of being killed by the cgroup without a word.

Compilers run inside the sandbox too (see ``graders.sandbox``), in the same scratch
directory, so the run step finds what they wrote.
"""

from __future__ import annotations

import functools
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from graders.limits import Limits
from graders.warm_python import LAUNCHER as PYTHON_LAUNCHER

# The JVM's own memory beyond the heap (metaspace, code cache, thread stacks, GC data)
# measured here for small programs with the flags below; what is left of the limit
# becomes the heap. The cgroup still counts everything, as Judge0's --cg-mem does.
JVM_NON_HEAP_KB = 48_000
JVM_MIN_HEAP_KB = 16_000
# Flags that make a JVM start fast and small in a box: one GC thread, the client
# compiler only, no perf-data file in /tmp, and a defined failure when the heap is full.
JVM_FLAGS = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData",
             "-Xshare:auto")
V8_NON_HEAP_KB = 48_000
V8_MIN_HEAP_MB = 16


def java_memory_options(limits: Limits) -> list[str]:
    heap_kb = max(JVM_MIN_HEAP_KB, int(limits.memory) - JVM_NON_HEAP_KB)
    return [f"-Xmx{heap_kb}k", "-XX:+ExitOnOutOfMemoryError", *JVM_FLAGS]


def node_memory_options(limits: Limits) -> list[str]:
    heap_mb = max(V8_MIN_HEAP_MB, (int(limits.memory) - V8_NON_HEAP_KB) // 1024)
    return [f"--max-old-space-size={heap_mb}"]


@dataclass(frozen=True)
class Language:
    id: int
    name: str  # Judge0-style display name; "{version}" is filled from version_command
    source_file: str
    run_cmd: tuple[str, ...]
    compile_cmd: tuple[str, ...] | None = None
    version_command: tuple[str, ...] = ()
    version_pattern: str = r"(\d+\.\d+(?:\.\d+)?)"
    memory_options: Callable[[Limits], list[str]] | None = None
    # Phrases a runtime prints when its own allocator gives up (reported as memory limit).
    out_of_memory_markers: tuple[bytes, ...] = ()
    is_archived: bool = False
    aliases: tuple[int, ...] = field(default=())
    # Optional: a command that starts the runtime in a fresh sandbox and waits on the
    # socket ``{control_fd}`` for the go (arguments + stdin), then runs the source file as
    # ``run_cmd`` would. The sandbox keeps such spares ready (see graders.warm_pool).
    warm_cmd: tuple[str, ...] | None = None

    # --- what the sandbox calls -------------------------------------------------------
    def compile_command(self, options: Sequence[str]) -> list[str] | None:
        if self.compile_cmd is None:
            return None
        return self._expand(self.compile_cmd, options=options)

    def run_command(self, limits: Limits, arguments: Sequence[str]) -> list[str]:
        memory = self.memory_options(limits) if self.memory_options else []
        return self._expand(self.run_cmd, arguments=arguments, memory_options=memory)

    def warm_command(self, limits: Limits, control_fd: int) -> list[str] | None:
        if self.warm_cmd is None or self.memory_options is not None:
            return None
        return [str(control_fd) if part == "{control_fd}" else part for part in self.warm_cmd]

    def ran_out_of_memory(self, output: bytes) -> bool:
        return any(marker in output for marker in self.out_of_memory_markers)

    @staticmethod
    def _expand(template: Sequence[str], **lists: Sequence[str]) -> list[str]:
        argv: list[str] = []
        for part in template:
            placeholder = part[1:-1] if part.startswith("{") and part.endswith("}") else None
            if placeholder is not None and placeholder in ("options", "arguments", "memory_options"):
                argv.extend(lists.get(placeholder, ()))
            else:
                argv.append(part)
        return argv

    # --- what the API shows -----------------------------------------------------------
    @property
    def display_name(self) -> str:
        return self.name.format(version=toolchain_version(self.version_command, self.version_pattern))

    def judge0_details(self) -> dict:
        """Judge0's language record; commands shown as they run with the default limits."""
        compile_cmd = self.compile_command(["%s"])
        return {
            "id": self.id,
            "name": self.display_name,
            "is_archived": self.is_archived,
            "source_file": self.source_file,
            "compile_cmd": " ".join(compile_cmd) if compile_cmd else None,
            "run_cmd": " ".join(self.run_command(Limits(), [])),
        }


@functools.cache
def toolchain_version(command: tuple[str, ...], pattern: str) -> str:
    """The installed toolchain's version, asked once per process."""
    if not command:
        return "unknown"
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    match = re.search(pattern, done.stdout + done.stderr)
    return match.group(1) if match else "unknown"


LANGUAGES: tuple[Language, ...] = (
    Language(
        id=50,
        name="C (GCC {version})",
        source_file="main.c",
        compile_cmd=("/usr/bin/gcc", "{options}", "main.c", "-lm"),
        run_cmd=("./a.out", "{arguments}"),
        version_command=("/usr/bin/gcc", "-dumpfullversion"),
    ),
    Language(
        id=52,
        name="C++ (GCC {version})",
        source_file="main.cpp",
        compile_cmd=("/usr/bin/g++", "{options}", "main.cpp"),
        run_cmd=("./a.out", "{arguments}"),
        version_command=("/usr/bin/g++", "-dumpfullversion"),
        # Judge0 CE lists two C++ compilers (52: GCC 7.4.0, 54: GCC 9.2.0); clients pick
        # either, and both mean the g++ installed here.
        aliases=(54,),
    ),
    Language(
        id=62,
        name="Java (OpenJDK {version})",
        source_file="Main.java",
        compile_cmd=("/usr/bin/javac", "-J-Xmx256m", *(f"-J{f}" for f in JVM_FLAGS),
                     "-encoding", "UTF-8", "{options}", "Main.java"),
        run_cmd=("/usr/bin/java", "{memory_options}", "-cp", ".", "Main", "{arguments}"),
        version_command=("/usr/bin/javac", "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1",
                         "-version"),
        memory_options=java_memory_options,
        # Not "unable to create native thread": that is the process limit, not memory.
        out_of_memory_markers=tuple(f"java.lang.OutOfMemoryError: {kind}".encode() for kind in (
            "Java heap space", "GC overhead limit exceeded",
            "Requested array size exceeds VM limit", "Metaspace")),
    ),
    Language(
        id=63,
        name="JavaScript (Node.js {version})",
        source_file="script.js",
        run_cmd=("/usr/bin/node", "{memory_options}", "script.js", "{arguments}"),
        version_command=("/usr/bin/node", "--version"),
        memory_options=node_memory_options,
        out_of_memory_markers=(b"JavaScript heap out of memory",),
    ),
    Language(
        id=71,
        name="Python ({version})",
        source_file="script.py",
        run_cmd=("/usr/bin/python3", "script.py", "{arguments}"),
        warm_cmd=("/usr/bin/python3", "-c", PYTHON_LAUNCHER, "{control_fd}", "script.py"),
        version_command=("/usr/bin/python3", "--version"),
        out_of_memory_markers=(b"\nMemoryError",),
    ),
)

_BY_ID: dict[int, Language] = {
    language_id: language
    for language in LANGUAGES
    for language_id in (language.id, *language.aliases)
}


class UnknownLanguage(LookupError):
    def __init__(self, language_id: object):
        super().__init__(f"language with id {language_id} doesn't exist")
        self.language_id = language_id


def get_language(language_id: int) -> Language:
    """The language for a Judge0 id (aliases included); ``UnknownLanguage`` otherwise."""
    try:
        return _BY_ID[language_id]
    except (KeyError, TypeError):
        raise UnknownLanguage(language_id) from None


def judge0_listing() -> list[tuple[int, Language]]:
    """(id, language) for every id the API lists, aliases included, sorted by id."""
    return sorted(_BY_ID.items())
