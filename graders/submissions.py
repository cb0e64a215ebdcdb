"""Whole submissions in the sandbox: compile (if the language needs it), run, judge.

:class:`SubmissionSandbox` is the :class:`~graders.sandbox.Sandbox` that code challenges
and the Judge0-compatible API use: each submission gets a fresh workspace of its own
(``graders.sandbox``), its compile step and runs execute there one command at a time, and
each run's :class:`~graders.judging.Execution` is judged by ``graders.judging``. With warm
spares enabled (:mod:`graders.warm_pool`), a Python run with exactly the spares' limits
takes one instead of starting an interpreter; the result is the same.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from typing import Protocol

from graders.judging import RunResult, Status, compile_failure, judge
from graders.languages import get_language
from graders.limits import Limits
from graders.sandbox import OutputCallback, Sandbox, SandboxBusy, SandboxConfig, Workspace
from graders.warm_pool import WarmPool

log = logging.getLogger(__name__)


class LanguageSpec(Protocol):
    """What the sandbox needs from a language (``graders.languages.Language``)."""

    source_file: str

    def compile_command(self, options: Sequence[str]) -> list[str] | None: ...

    def run_command(self, limits: Limits, arguments: Sequence[str]) -> list[str]: ...

    def ran_out_of_memory(self, output: bytes) -> bool: ...


def resolve_language(language: LanguageSpec | int) -> LanguageSpec:
    if isinstance(language, int):
        return get_language(language)
    return language


class SubmissionSandbox(Sandbox):
    """A :class:`~graders.sandbox.Sandbox` that compiles, runs and judges whole submissions,
    optionally on warm spares. Thread-safe; create one per process (``default_sandbox()``)."""

    def __init__(self, config: SandboxConfig | None = None):
        super().__init__(config)
        self.warm = WarmPool(self)

    # --- warm spares ------------------------------------------------------------------
    def enable_warm(self, spares: int, languages: Sequence[int] = (71,),
                    limits: Limits | None = None) -> None:
        """Keep ``spares`` sandboxes per language started ahead of time with ``limits``; a
        run with exactly those limits takes one. See :meth:`graders.warm_pool.WarmPool.enable`."""
        self.warm.enable(spares, languages, limits)

    async def disable_warm(self) -> None:
        """Stop keeping spares and tear down those of this event loop (and of closed ones)."""
        await self.warm.disable()

    async def warm_ready(self, language: int = 71, limits: Limits | None = None,
                         timeout: float = 30) -> int:
        """Wait until this loop's spares for ``language`` are ready; how many are."""
        return await self.warm.ready(language, limits, timeout)

    @property
    def warm_runs(self) -> int:
        """Runs that took a spare (the rest started cold)."""
        return self.warm.runs

    # --- judging a whole submission ---------------------------------------------------
    async def run_async(
        self,
        source: str | bytes,
        language: LanguageSpec | int,
        *,
        stdin: str | bytes = b"",
        expected_output: str | bytes | None = None,
        limits: Limits | None = None,
        compile_limits: Limits | None = None,
        compiler_options: Sequence[str] = (),
        arguments: Sequence[str] = (),
        redirect_stderr_to_stdout: bool = False,
        number_of_runs: int = 1,
        on_output: OutputCallback | None = None,
    ) -> RunResult:
        """Compile (if the language needs it) and run ``source``; judge against
        ``expected_output`` when given. ``number_of_runs`` > 1 averages time and memory
        over runs (stopping at the first that is not accepted), as Judge0 does."""
        language = resolve_language(language)
        limits = limits or Limits()
        compile_limits = compile_limits or Limits.for_compilation()
        stdin_bytes = stdin.encode() if isinstance(stdin, str) else stdin
        source_bytes = source.encode() if isinstance(source, str) else source
        key = self.warm.key_for(language, limits)
        if (key is not None and number_of_runs <= 1 and not redirect_stderr_to_stdout
                and language.compile_command(compiler_options) is None
                and sum(len(a) + 1 for a in arguments) < 4096):
            spare = self.warm.take(key)
            if spare is not None:
                try:
                    execution = await self.warm.run(spare, language, source_bytes, stdin_bytes,
                                                    arguments, limits, on_output)
                except Exception as exc:
                    log.exception("warm sandbox run failed")
                    return RunResult(Status.INTERNAL_ERROR, message=f"{type(exc).__name__}: {exc}")
                if execution is not None:
                    return judge(execution, limits, language, expected_output)
        try:
            async with self.workspace() as workspace:
                compile_output, failure = await self._prepare(
                    workspace, language, source_bytes, compile_limits, compiler_options, on_output)
                if failure is not None:
                    return failure
                results = []
                for attempt in range(max(1, number_of_runs)):
                    execution = await self.execute(
                        workspace, language.run_command(limits, arguments), limits,
                        step=f"run{attempt}", stdin=stdin_bytes,
                        merge_stderr=redirect_stderr_to_stdout, on_output=on_output,
                    )
                    results.append(judge(execution, limits, language, expected_output))
                    if results[-1].status is not Status.ACCEPTED:
                        break
        except SandboxBusy:
            raise
        except Exception as exc:  # a sandbox failure must surface as a status, not a crash
            log.exception("sandbox run failed")
            return RunResult(Status.INTERNAL_ERROR, message=f"{type(exc).__name__}: {exc}")
        final = results[-1]
        final.compile_output = compile_output
        final.time = round(sum(r.time for r in results) / len(results), 3)
        final.memory = round(sum(r.memory for r in results) / len(results))
        return final

    async def _prepare(self, workspace: Workspace, language: LanguageSpec, source: bytes,
                       compile_limits: Limits, compiler_options: Sequence[str],
                       on_output: OutputCallback | None) -> tuple[bytes | None, RunResult | None]:
        """Write the source and compile it if the language needs it: (output, failure)."""
        self.write_file(workspace, language.source_file, source)
        compile_argv = language.compile_command(compiler_options)
        if compile_argv is None:
            return None, None
        compiled = await self.execute(
            workspace, compile_argv, compile_limits, step="compile", merge_stderr=True,
            on_output=on_output, stream_names=("compile_output", "compile_output"),
        )
        compile_output = compiled.stdout or None
        failure = compile_failure(compiled, compile_limits)
        if failure is not None:
            failure.compile_output = failure.compile_output or compile_output
        return compile_output, failure

    async def run_tests(
        self,
        source: str | bytes,
        language: LanguageSpec | int,
        cases: Sequence[tuple[str | bytes, str | bytes]],
        *,
        limits: Limits | None = None,
        compile_limits: Limits | None = None,
    ) -> tuple[RunResult | None, list[RunResult]]:
        """Compile once, then run every ``(stdin, expected_output)`` case in the same
        workspace. Returns ``(compile_failure, results)``: a compile failure (and no
        results), or None and one result per case."""
        language = resolve_language(language)
        limits = limits or Limits()
        compile_limits = compile_limits or Limits.for_compilation()
        source_bytes = source.encode() if isinstance(source, str) else source
        try:
            async with self.workspace() as workspace:
                _, failure = await self._prepare(workspace, language, source_bytes, compile_limits, (), None)
                if failure is not None:
                    return failure, []
                results = []
                for index, (stdin, expected) in enumerate(cases):
                    execution = await self.execute(
                        workspace, language.run_command(limits, ()), limits, step=f"case{index}",
                        stdin=stdin.encode() if isinstance(stdin, str) else stdin,
                    )
                    results.append(judge(execution, limits, language, expected))
                return None, results
        except SandboxBusy:
            raise
        except Exception as exc:
            log.exception("sandbox test run failed")
            return RunResult(Status.INTERNAL_ERROR, message=f"{type(exc).__name__}: {exc}"), []

    def run(self, source: str | bytes, language: LanguageSpec | int, **options) -> RunResult:
        """Synchronous ``run_async`` (for scripts, workers and tests without a loop)."""
        return asyncio.run(self.run_async(source, language, **options))


# --------------------------------------------------------------------------------------
# Module-level entry points
# --------------------------------------------------------------------------------------
_default_lock = threading.Lock()
_default: SubmissionSandbox | None = None


def default_sandbox() -> SubmissionSandbox:
    """The process-wide sandbox with the default configuration (created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SubmissionSandbox()
        return _default


async def run_async(source: str | bytes, language: LanguageSpec | int, *,
                    sandbox: SubmissionSandbox | None = None, **options) -> RunResult:
    """Compile and run ``source`` in the sandbox; see :meth:`SubmissionSandbox.run_async`."""
    return await (sandbox or default_sandbox()).run_async(source, language, **options)


def run(source: str | bytes, language: LanguageSpec | int, *,
        sandbox: SubmissionSandbox | None = None, **options) -> RunResult:
    """Synchronous :func:`run_async`."""
    return asyncio.run(run_async(source, language, sandbox=sandbox, **options))
