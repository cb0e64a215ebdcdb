"""Warm spares: sandboxes started ahead of time, each with its runtime loaded, used for one run.

A spare is a complete sandbox of :mod:`graders.sandbox` (fresh scratch, its own uid,
namespaces, cgroup, seccomp, limits) in which a language's warm command
(``graders.warm_python``'s launcher for Python) was launched and waits on a socket before
running anything of a student's. A run with exactly the spare's language and limits takes
one: the host writes the source into its ``/box``, sends the arguments and stdin, and
supervises it like any run; a new spare is started in the background. Each spare serves one
run and is torn down like any run, so isolation per run is the same: only the runtime's
start-up is off the critical path.

Spares belong to the event loop that started them (their pipes and pidfds are watched by
that loop); spares of a loop that was closed are torn down synchronously on the next use.
Their workspaces are "standby" workspaces (``Sandbox.open_workspace(standby=True)``), which
the sandbox's ``residue()`` does not count while their process lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from graders.judging import Execution
from graders.languages import Language, get_language
from graders.limits import Limits
from graders.sandbox import Launched, OutputCallback, Sandbox, Workspace, memfd_with

log = logging.getLogger(__name__)

SpareKey = tuple[int, Limits]  # (language id, limits)


@dataclass
class Spare:
    """A warm sandbox: a runtime started in a complete, unused sandbox, waiting for the go."""

    key: SpareKey
    workspace: Workspace
    releases: contextlib.ExitStack  # the workspace's lease and scratch
    launched: Launched
    control: socket.socket  # our end; the runtime waits on the other


@dataclass
class _LoopSpares:
    """The spares of one event loop (their pipes and pidfds are watched by that loop)."""

    ready: dict[SpareKey, list[Spare]] = dataclasses.field(default_factory=dict)
    starting: dict[SpareKey, int] = dataclasses.field(default_factory=dict)
    tasks: set[asyncio.Task] = dataclasses.field(default_factory=set)

    def track(self, work) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


class WarmPool:
    """Spares over one :class:`~graders.sandbox.Sandbox`, per (language, limits)."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        # per (language id, limits): the target count of spares; they belong to one event loop
        self._target: dict[SpareKey, int] = {}
        self._loops: dict[asyncio.AbstractEventLoop, _LoopSpares] = {}
        self._lock = threading.Lock()
        self.runs = 0  # runs that took a spare (the rest started cold)
        self._live: dict[str, int] = {}  # workspace name -> uid of spares not yet finished

    def enable(self, spares: int, languages: Sequence[int] = (71,),
               limits: Limits | None = None) -> None:
        """Keep ``spares`` sandboxes per language (those with a ``warm_cmd``) started ahead
        of time with ``limits`` (default: the default limits), each with its runtime loaded
        and waiting. Spares belong to the event loop that first uses them."""
        limits = limits or Limits()
        for language_id in languages:
            language = get_language(language_id)
            if language.warm_command(limits, 3) is None:
                raise ValueError(f"{language.id} has no warm runner")
            self._target[(language.id, limits)] = max(0, spares)

    async def disable(self) -> None:
        """Stop keeping spares and tear down those of this event loop (and of closed ones)."""
        self._target.clear()
        pool = self._loop_spares()
        for task in list(pool.tasks):
            task.cancel()
        await asyncio.gather(*pool.tasks, return_exceptions=True)
        for key in list(pool.ready):
            for spare in pool.ready.pop(key):
                await self._discard(spare)

    def key_for(self, language, limits: Limits) -> SpareKey | None:
        """The spares a run of ``language`` with ``limits`` may take, if any are kept."""
        key = (getattr(language, "id", None), limits)
        return key if key in self._target else None

    def _loop_spares(self) -> _LoopSpares:
        """This event loop's spares. Spares of loops that were closed (a test, a worker that
        re-runs asyncio.run) cannot be awaited any more: they are torn down here."""
        loop = asyncio.get_running_loop()
        with self._lock:
            closed = [other for other in self._loops if other.is_closed()]
            orphans = [self._loops.pop(other) for other in closed]
            pool = self._loops.setdefault(loop, _LoopSpares())
        for orphan in orphans:
            for spares in orphan.ready.values():
                for spare in spares:
                    self._discard_sync(spare)
        return pool

    async def ready(self, language: int = 71, limits: Limits | None = None,
                    timeout: float = 30) -> int:
        """Wait until this loop has its target of spares for ``language`` ready (or the
        timeout passes); returns how many are ready. Starts them if none are."""
        key = (language, limits or Limits())
        pool = self._loop_spares()
        if key not in self._target:
            return 0
        pool.track(self._refill(pool, key))
        deadline = time.monotonic() + timeout
        while len(pool.ready.get(key, [])) < self._target[key] and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return len(pool.ready.get(key, []))

    def take(self, key: SpareKey) -> Spare | None:
        """A ready spare for ``key`` (None if there is none); starts its replacement."""
        pool = self._loop_spares()
        spare = None
        ready = pool.ready.setdefault(key, [])
        while ready and spare is None:
            candidate = ready.pop(0)
            if candidate.launched.child.exited.done():  # died while waiting: not usable
                pool.track(self._discard(candidate))
            else:
                spare = candidate
        pool.track(self._refill(pool, key))
        return spare

    async def _refill(self, pool: _LoopSpares, key: SpareKey) -> None:
        while (key in self._target and len(pool.ready.get(key, []))
               + pool.starting.get(key, 0) < self._target[key]):
            pool.starting[key] = pool.starting.get(key, 0) + 1
            try:
                spare = await self._start(key)
            except Exception:
                log.exception("starting a warm sandbox failed; runs start cold")
                return
            finally:
                pool.starting[key] -= 1
            if key in self._target:
                pool.ready.setdefault(key, []).append(spare)
            else:
                await self._discard(spare)

    async def _start(self, key: SpareKey) -> Spare:
        language, limits = get_language(key[0]), key[1]
        sandbox = self.sandbox
        workspace, releases = await sandbox.blocking(sandbox.open_workspace, True)
        self._live[workspace.name] = workspace.uid
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            launched = await sandbox.launch(
                workspace, language.warm_command(limits, theirs.fileno()), limits, step="warm",
                stdin_fd=devnull, merge_stderr=False, extra_fds=(theirs.fileno(),))
        except BaseException:
            ours.close()
            self._live.pop(workspace.name, None)
            await sandbox.blocking(releases.close)
            raise
        finally:
            theirs.close()
            os.close(devnull)
        return Spare(key, workspace, releases, launched, ours)

    async def _discard(self, spare: Spare) -> None:
        spare.control.close()  # the runtime sees EOF and exits without running anything
        try:
            await self.sandbox.finish(spare.launched, spare.key[1], merge_stderr=False, on_output=None)
        finally:
            self._live.pop(spare.workspace.name, None)
            await self.sandbox.blocking(spare.releases.close)

    def _discard_sync(self, spare: Spare) -> None:
        """Tear down a spare whose event loop is gone (no awaiting possible)."""
        spare.control.close()
        self.sandbox.abandon(spare.launched)
        self._live.pop(spare.workspace.name, None)
        spare.releases.close()

    async def run(self, spare: Spare, language: Language, source: bytes, stdin: bytes,
                  arguments: Sequence[str], limits: Limits,
                  on_output: OutputCallback | None) -> Execution | None:
        """Run ``source`` in a spare; None when the spare turned out unusable (run cold)."""
        message = b"go\0" + b"".join(os.fsencode(a) + b"\0" for a in arguments)
        try:
            self.sandbox.write_file(spare.workspace, language.source_file, source)
            stdin_fd = memfd_with("lms-sandbox-stdin", stdin)
            try:
                socket.send_fds(spare.control, [message], [stdin_fd])
            finally:
                os.close(stdin_fd)
        except OSError:
            log.warning("a warm sandbox was gone before its run; running cold")
            await self._discard(spare)
            return None
        spare.control.close()
        spare.launched.started = time.monotonic()
        self.runs += 1
        try:
            return await self.sandbox.finish(spare.launched, limits, merge_stderr=False,
                                             on_output=on_output)
        finally:
            self._live.pop(spare.workspace.name, None)
            self.sandbox.defer(spare.releases.close)
