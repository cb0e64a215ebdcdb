"""What runs inside the sandbox when a submission is graded (started by ``graders.notebook``).

One sandbox run grades one submission (all its notebooks), or several of the same lesson
one after the other (``graders.notebook.grade_submissions``), with three kinds of
processes, all under the sandbox's uid, namespaces, cgroup and seccomp filter:

``S``, the supervisor (this module's ``main``)
    Never runs student code. It loads IPython and the libraries the lesson imports, forks
    the zygote, only then reads the job from stdin (notebooks with hidden tests, files) and
    empties stdin (bubblewrap's init keeps a copy of the descriptor that any process of
    the run could open through ``/proc/1/fd/0``). It compiles the test cells itself, feeds
    cells one at a time to an executor, enforces the per-cell timeout (SIGINT, then
    SIGKILL), and writes one JSON line per cell to its stdout: the host's only result
    channel. Between two submissions it kills every other process of the run, empties
    /box, /tmp and /dev/shm and removes System V IPC objects. Executors do not have that descriptor, and S is not dumpable, so they cannot
    open it through ``/proc/S/fd`` or read S's memory (the seccomp filter denies ptrace,
    ``process_vm_*`` and ``pidfd_getfd``). A killed S ends the run: cells without a line
    score 0.
``Z``, the zygote
    Forked by S before the job is read, so it holds no hidden test and never runs student
    code. Forks a fresh executor per notebook (a fresh kernel, as nbgrader starts one per
    notebook) with pandas and IPython already imported: a few milliseconds instead of a
    Jupyter kernel's start, connection and shutdown.
``E``, an executor
    An IPython ``InteractiveShell`` in a plain process: the student's cells run through
    ``run_cell`` (magics, ``!``, display, top-level await), test cells through the loop
    below. Student code and test code share this process, so nothing E *says* is trusted:

The trusted result channel
    Whether a test cell raised is decided by the ``try``/``except`` of :func:`_serve` (the
    executor's main loop, started before any student code). The loop announces each result
    by blocking on a line that exists only for that result (a different source line for
    pass, fail, pass-with-a-value and for every 2-bit symbol, each in two parities so a
    position is read once). A *reporter* thread, also started before any student code and
    the only holder of the HMAC key shared with S, reads the line number of the loop's
    frame (``frame.f_lineno``), never anything the loop wrote, and sends S an
    authenticated report. Student code can read every frame of the main thread, but cannot
    change a running frame's position or local variables, cannot reach the reporter's
    frame (``sys._current_frames``, ``gc`` introspection and tracing are refused by an audit
    hook that cannot be removed), and cannot forge a report without the key. The
    loop also reports, through the same position channel, a hash of the exact command it
    executed, so a cell injected into its command pipe is detected by S. The partial
    credit value of a test cell (nbgrader's "output is a number") travels the same way.

This holds against anything written in Python. It does not hold against code that reads
or writes the process's memory directly: ctypes primitives CPython does not audit
(``memmove``, ``cast``, a ``Union`` over a pointer; pandas imports ctypes, so it is always
loaded), numpy's array interface with a raw pointer, or a C extension built with the
sandbox's compiler. The audited entry points (``dlopen``, ``dlsym``, ``from_address``,
``addressof``, ``string_at``) are refused and cffi cannot be loaded, so such an attack
takes knowledge of CPython's internals; its reach is this student's own grade, since the
sandbox isolates the run.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import marshal
import os
import select
import signal
import socket
import struct
import sys
import time

try:  # the C implementation: nothing the student can patch runs on the reporter thread
    from _hashlib import hmac_digest as _hmac_digest
except ImportError:  # pragma: no cover - Python built without OpenSSL
    _hmac_digest = hmac.digest

FRAME = struct.Struct(">I")
REPORT_BODY = 8 + 1 + 8 + 9  # counter, code, command hash, value word
REPORT_SIZE = REPORT_BODY + 32
HASH_SYMBOLS = 32  # 64-bit command hash, 2 bits per symbol
VALUE_SYMBOLS = 33  # parsed flag + 64-bit float
OP_EXIT, OP_RUN, OP_TEST = 0, 1, 2
MAX_COMMAND = 64 * 1024 * 1024
MAX_OUT_FRAME = 16 * 1024 * 1024
DEFAULT_CELL_OUTPUT_LIMIT = 2 * 1024 * 1024

# Markers the executor loop writes on its report lines; the reporter maps each marker's
# source line to its meaning (see _report_lines). The bytes themselves are not trusted.
_MARKERS = {
    b"lms:P0": ("P", 0), b"lms:P1": ("P", 1), b"lms:F0": ("F", 0), b"lms:F1": ("F", 1),
    b"lms:Q0": ("Q", 0), b"lms:Q1": ("Q", 1), b"lms:D0": ("D", 0), b"lms:D1": ("D", 1),
    b"lms:s00": (0, 0), b"lms:s10": (1, 0), b"lms:s20": (2, 0), b"lms:s30": (3, 0),
    b"lms:s01": (0, 1), b"lms:s11": (1, 1), b"lms:s21": (2, 1), b"lms:s31": (3, 1),
}


def command_hash(body: bytes) -> int:
    return int.from_bytes(hashlib.sha256(body).digest()[:8], "big")


# ======================================================================================
# Executor: the loop that runs cells (trusted positions) and the reporter thread
# ======================================================================================
def _serve(cmd_fd, key_fd, report_fd, shell, cells, trusted):
    """The executor's main loop. Everything it relies on after student code has run is a
    local variable bound here, before any (student code cannot rebind a running frame's
    locals in CPython 3.11 without tracing, which the audit hook refuses)."""
    import _thread

    wake_r, wake_w = os.pipe()
    ack_r, ack_w = os.pipe()
    _thread.start_new_thread(_reporter, (sys._getframe(), key_fd, report_fd, wake_r, ack_w))
    sys.addaudithook(trusted[4])
    _read, _write, _exec, _eval, _loads = os.read, os.write, exec, eval, marshal.loads
    _BaseException, _len, _type, _int, _float = BaseException, len, type, int, float
    _repr, _int_repr, _float_repr = repr, int.__repr__, float.__repr__
    _pack, _from_bytes, _sha256 = struct.Struct(">d").pack, int.from_bytes, hashlib.sha256
    _min, _exc_info = min, sys.exc_info
    _op_exit, _op_run = OP_EXIT, OP_RUN
    _hash_symbols, _value_symbols = HASH_SYMBOLS, VALUE_SYMBOLS
    guard_enter, guard_leave, bind_code = trusted[1], trusted[2], trusted[3]
    namespace = shell.user_ns
    parity = 0
    while True:
        header = b""
        while _len(header) < 4:
            chunk = _read(cmd_fd, 4 - _len(header))
            if not chunk:
                return
            header = header + chunk
        size = _from_bytes(header, "big")
        body = b""
        while _len(body) < size:
            chunk = _read(cmd_fd, _min(size - _len(body), 1 << 20))
            if not chunk:
                return
            body = body + chunk
        try:
            command = _loads(body)
            op = command[0]
        except _BaseException:
            op = -1
        if op == _op_exit:
            return
        if op == _op_run:
            try:
                cells.begin(command[1])
            except _BaseException:
                pass
            try:
                shell.run_cell(command[2], store_history=True)
            except _BaseException:
                pass
            if parity:
                _write(wake_w, b"lms:D1"); _read(ack_r, 1)  # noqa: E702
            else:
                _write(wake_w, b"lms:D0"); _read(ack_r, 1)  # noqa: E702
            parity = 1 - parity
            try:
                cells.finish(command[1])
            except _BaseException:
                # a cell broke what outputs are made with (patched builtins, json...):
                # again, with the libraries as they were at start-up
                changes = ()
                try:
                    changes = guard_enter(namespace)
                    cells.finish(command[1])
                except _BaseException:
                    pass
                try:
                    guard_leave(changes)
                except _BaseException:
                    pass
            continue
        # ---- a test cell (or garbage, which fails) --------------------------------------
        outcome = 0
        value_word = 0
        error = None
        changes = ()
        try:
            seq, body_code, expression_code, quiet, compile_warnings = command[1:6]
            body_code = bind_code(body_code)
            if expression_code is not None:
                expression_code = bind_code(expression_code)
            changes = guard_enter(namespace)
            cells.begin(seq)
            cells.prepare_test(compile_warnings)
            _exec(body_code, namespace)
            if expression_code is not None:
                value = _eval(expression_code, namespace)
                if value is not None and not quiet:
                    kind = _type(value)
                    if kind is _int:
                        text = _int_repr(value)
                    elif kind is _float:
                        text = _float_repr(value)
                    else:
                        text = _repr(value)
                    try:
                        number = _float(text)
                        value_word = 1 | (_from_bytes(_pack(number), "big") << 1)
                    except _BaseException:
                        value_word = 0
                    outcome = 2
                    cells.remember_value(value)
                else:
                    outcome = 1
            else:
                outcome = 1
        except _BaseException:
            outcome = 0
            error = _exc_info()
        payload = _from_bytes(_sha256(body).digest()[:8], "big")
        count = _hash_symbols
        if outcome == 2:
            payload = payload | (value_word << 64)
            count = _hash_symbols + _value_symbols
            if parity:
                _write(wake_w, b"lms:Q1"); _read(ack_r, 1)  # noqa: E702
            else:
                _write(wake_w, b"lms:Q0"); _read(ack_r, 1)  # noqa: E702
        elif outcome == 1:
            if parity:
                _write(wake_w, b"lms:P1"); _read(ack_r, 1)  # noqa: E702
            else:
                _write(wake_w, b"lms:P0"); _read(ack_r, 1)  # noqa: E702
        else:
            if parity:
                _write(wake_w, b"lms:F1"); _read(ack_r, 1)  # noqa: E702
            else:
                _write(wake_w, b"lms:F0"); _read(ack_r, 1)  # noqa: E702
        parity = 1 - parity
        position = 0
        while position < count:
            symbol = (payload >> (2 * position)) & 3
            if parity:
                if symbol == 0:
                    _write(wake_w, b"lms:s01"); _read(ack_r, 1)  # noqa: E702
                elif symbol == 1:
                    _write(wake_w, b"lms:s11"); _read(ack_r, 1)  # noqa: E702
                elif symbol == 2:
                    _write(wake_w, b"lms:s21"); _read(ack_r, 1)  # noqa: E702
                else:
                    _write(wake_w, b"lms:s31"); _read(ack_r, 1)  # noqa: E702
            else:
                if symbol == 0:
                    _write(wake_w, b"lms:s00"); _read(ack_r, 1)  # noqa: E702
                elif symbol == 1:
                    _write(wake_w, b"lms:s10"); _read(ack_r, 1)  # noqa: E702
                elif symbol == 2:
                    _write(wake_w, b"lms:s20"); _read(ack_r, 1)  # noqa: E702
                else:
                    _write(wake_w, b"lms:s30"); _read(ack_r, 1)  # noqa: E702
            parity = 1 - parity
            position += 1
        # ---- what follows only produces the notebook's outputs (not trusted) -------------
        try:
            cells.finish_test(command[1] if _len(command) > 1 else -1, outcome, error)
        except _BaseException:
            pass
        try:
            guard_leave(changes)
        except _BaseException:
            pass
        error = None


def _report_lines() -> dict[int, tuple]:
    """``{source line of _serve: (meaning, parity)}`` for every report line."""
    import dis

    lines: dict[int, tuple] = {}
    for instruction in dis.get_instructions(_serve):
        meaning = _MARKERS.get(instruction.argval) if instruction.opname == "LOAD_CONST" else None
        if meaning is None:
            continue
        line = instruction.positions.lineno
        if line in lines:
            raise RuntimeError(f"two report markers on line {line} of the executor loop")
        lines[line] = meaning
    if len(lines) != len(_MARKERS):
        raise RuntimeError("the executor loop lost a report line")
    return lines


def _reporter(frame, key_fd, report_fd, wake_r, ack_w, _read=os.read, _write=os.write,
              _close=os.close, _hmac=_hmac_digest, _len=len, _get=dict.get, _bytes=bytes,
              _BaseException=BaseException, _lines=_report_lines, _hash_symbols=HASH_SYMBOLS,
              _value_symbols=VALUE_SYMBOLS, _mask=0xFFFFFFFFFFFFFFFF):
    """The reporter thread: authenticates what the executor loop's *position* says.

    Global-free and allocation-light on purpose: it never runs code the student could
    have replaced, never touches an object the student made (so no finaliser of theirs
    can run on this thread and see the key), and holds the key in this frame only.
    The line table is built here, before the first cell, so nobody else holds it."""
    lines = _lines()
    key = b""
    while _len(key) < 32:
        chunk = _read(key_fd, 32 - _len(key))
        if not chunk:
            return
        key = key + chunk
    _close(key_fd)
    counter = 0
    parity = 0
    pending = None  # the result marker whose symbols are being read
    symbols = 0
    needed = 0
    payload = 0
    body = counter.to_bytes(8, "big") + b"H" + _bytes(17)
    _write(report_fd, body + _hmac(key, body, "sha256"))
    while True:
        try:
            if not _read(wake_r, 64):
                return
            meaning = _get(lines, frame.f_lineno)
            if meaning is None or meaning[1] != parity:
                continue  # not where a report is made (or already reported): spurious
            what = meaning[0]
            if pending is None:
                if what == "D":
                    counter += 1
                    body = counter.to_bytes(8, "big") + b"D" + _bytes(17)
                    _write(report_fd, body + _hmac(key, body, "sha256"))
                elif what == "P" or what == "F" or what == "Q":
                    pending = what
                    symbols = 0
                    payload = 0
                    needed = _hash_symbols + _value_symbols if what == "Q" else _hash_symbols
                else:
                    continue
            else:
                if what == "D" or what == "P" or what == "F" or what == "Q":
                    continue
                payload = payload | (what << (2 * symbols))
                symbols += 1
                if symbols == needed:
                    counter += 1
                    body = (counter.to_bytes(8, "big") + pending.encode()
                            + (payload & _mask).to_bytes(8, "big")
                            + (payload >> 64).to_bytes(9, "big"))
                    _write(report_fd, body + _hmac(key, body, "sha256"))
                    pending = None
            parity = 1 - parity
            _write(ack_w, b".")
        except _BaseException:
            return


# ======================================================================================
# Executor: outputs (not trusted; they only fill the autograded notebook)
# ======================================================================================
class _Cells:
    """Collects the outputs of the running cell as nbformat output dicts, like nbclient."""

    def __init__(self, out_fd: int, limit: int):
        import threading

        self.out_fd = out_fd
        self.limit = limit
        self.lock = threading.RLock()
        self.outputs: list[dict] = []
        self.size = 0
        self.truncated = False
        self.stderr_noted = False
        self.clear_pending = False
        self.shell = None
        self.captures: list = []
        self.test_value = None
        self.test_count = None

    # --- collecting ------------------------------------------------------------------
    def begin(self, seq) -> None:
        with self.lock:
            self.outputs, self.size, self.truncated, self.clear_pending = [], 0, False, False
            self.stderr_noted = False
            self.test_value = self.test_count = None

    def _add(self, output: dict, size: int) -> None:
        if self.clear_pending:
            self.outputs, self.size, self.clear_pending = [], 0, False
        if self.size + size > self.limit:
            if not self.truncated:
                self.truncated = True
                self.outputs.append({"output_type": "stream", "name": "stdout",
                                     "chunks": ["\n... Output truncated (too large) ...\n"]})
            return
        self.size += size
        self.outputs.append(output)

    def stream(self, name: str, text: str) -> None:
        if not text:
            return
        with self.lock:
            if self.truncated:
                if name == "stderr" and not self.stderr_noted:
                    # what nbgrader scores must survive truncation: a test that wrote
                    # to stderr scores 0
                    self.stderr_noted = True
                    self.outputs.append({"output_type": "stream", "name": "stderr",
                                         "chunks": ["[stderr output truncated]\n"]})
                return
            last = self.outputs[-1] if self.outputs and not self.clear_pending else None
            if (last is not None and last.get("output_type") == "stream"
                    and last.get("name") == name and self.size + len(text) <= self.limit):
                last["chunks"].append(text)  # joined once, in finish(): no quadratic copies
                self.size += len(text)
            else:
                self._add({"output_type": "stream", "name": name, "chunks": [text]}, len(text))

    def display(self, data, metadata, update: bool = False, transient=None) -> None:
        output = {"output_type": "display_data", "data": _jsonable(data),
                  "metadata": _jsonable(metadata or {})}
        with self.lock:
            self._add(output, _size_of(output))

    def execute_result(self, data, metadata, count) -> None:
        output = {"output_type": "execute_result", "data": _jsonable(data),
                  "metadata": _jsonable(metadata or {}), "execution_count": count}
        with self.lock:
            self._add(output, _size_of(output))

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        output = {"output_type": "error", "ename": ename, "evalue": evalue,
                  "traceback": [str(line) for line in traceback][:200]}
        with self.lock:
            self._add(output, _size_of(output))

    def clear(self, wait: bool) -> None:
        with self.lock:
            if wait:
                self.clear_pending = True
            else:
                self.outputs, self.size = [], 0

    # --- around test cells -----------------------------------------------------------
    def prepare_test(self, compile_warnings: str) -> None:
        shell = self.shell
        self.test_count = shell.execution_count
        shell.execution_count += 1
        if compile_warnings:
            self.stream("stderr", compile_warnings)
        try:
            shell.events.trigger("pre_execute")
        except Exception:
            pass

    def remember_value(self, value) -> None:
        self.test_value = (value,)

    def finish_test(self, seq, outcome: int, error) -> None:
        shell = self.shell
        if error is not None:
            etype, evalue, tb = error
            if tb is not None and tb.tb_next is not None:
                tb = tb.tb_next  # the executor loop's own frame
            try:
                shell.showtraceback((etype, evalue, tb))
            except BaseException:
                etype, evalue = error[0], error[1]
                self.error(getattr(etype, "__name__", "Error"), _safe_str(evalue), [])
        elif self.test_value is not None:
            value = self.test_value[0]
            try:
                data, metadata = shell.display_formatter.format(value)
                self.execute_result(data, metadata, self.test_count)
                shell.displayhook.update_user_ns(value)
            except BaseException:
                pass
        self.test_value = None
        try:
            shell.events.trigger("post_execute")
        except BaseException:
            pass
        self.finish(seq, error=error, line=_test_cell_line(error))

    def finish(self, seq, error=None, line=None) -> None:
        """Send the cell's outputs to the supervisor (after the report)."""
        self._sync_fds()
        with self.lock:
            outputs, self.outputs, self.size = self.outputs, [], 0
        for output in outputs:
            if "chunks" in output:
                output["text"] = "".join(output.pop("chunks"))
        ename = evalue = None
        if error is not None:
            ename = getattr(error[0], "__name__", "Error")
            evalue = _safe_str(error[1])
        else:
            for output in outputs:
                if output.get("output_type") == "error":
                    ename, evalue = output.get("ename"), output.get("evalue")
        count = self.test_count if self.test_count is not None else self.shell.execution_count - 1
        message = {"seq": seq, "outputs": outputs, "execution_count": count,
                   "ename": ename, "evalue": evalue, "line": line}
        data = json.dumps(message, default=str).encode()
        _write_all(self.out_fd, FRAME.pack(len(data)) + data)

    def _sync_fds(self) -> None:
        for capture in self.captures:
            capture.sync()


class _FdCapture:
    """Reads what is written to file descriptor 1 or 2 (subprocesses, C code) into the
    current cell's stream output, as ipykernel does."""

    def __init__(self, fd: int, name: str, cells: _Cells):
        import threading

        self.name = name
        self.cells = cells
        self.read_fd, write_fd = os.pipe()
        os.dup2(write_fd, fd)
        os.close(write_fd)
        self.fd = fd
        self.marker = b"\x00lms-sync-" + os.urandom(8).hex().encode() + b"\x00"
        self.synced = threading.Event()
        thread = threading.Thread(target=self._pump, name=f"lms-capture-{name}", daemon=True)
        thread.start()

    def _pump(self) -> None:
        import codecs

        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending = b""
        while True:
            try:
                chunk = os.read(self.read_fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            pending += chunk
            while True:
                index = pending.find(self.marker)
                if index < 0:
                    break
                self.cells.stream(self.name, decoder.decode(pending[:index]))
                pending = pending[index + len(self.marker):]
                self.synced.set()
            keep = len(self.marker) - 1
            if len(pending) > keep:
                self.cells.stream(self.name, decoder.decode(pending[:-keep]))
                pending = pending[-keep:]

    def sync(self) -> None:
        self.synced.clear()
        try:
            os.write(self.fd, self.marker)
        except OSError:
            return
        self.synced.wait(1.0)


def _test_cell_line(error) -> int | None:
    """The line of the test cell where it failed (its innermost frame in the traceback).
    Like everything the executor says, not trusted: the host uses it only to choose which
    of the test's *visible* lines to name in the student's feedback."""
    if error is None:
        return None
    line = None
    try:
        tb = error[2]
        while tb is not None:
            if str(tb.tb_frame.f_code.co_filename).startswith("<test cell"):
                line = int(tb.tb_lineno)
            tb = tb.tb_next
    except BaseException:
        return None
    return line


def _safe_str(value) -> str:
    try:
        return str(value)[:10000]
    except BaseException:
        return "<exception message could not be shown>"


def _jsonable(value):
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))


def _size_of(output: dict) -> int:
    return len(json.dumps(output, default=str))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _build_shell_classes():
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    class GraderDisplayPublisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False,
                    **kwargs) -> None:
            cells = getattr(self.shell, "lms_cells", None)
            if cells is not None:
                cells.display(data, metadata, update=update, transient=transient)

        def clear_output(self, wait=False) -> None:
            cells = getattr(self.shell, "lms_cells", None)
            if cells is not None:
                cells.clear(wait)

    class GraderDisplayHook(DisplayHook):
        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict, md_dict=None) -> None:
            cells = getattr(self.shell, "lms_cells", None)
            if cells is not None:
                cells.execute_result(format_dict, md_dict, self.prompt_count)

        def finish_displayhook(self) -> None:
            self._is_active = False

    class GraderShell(InteractiveShell):
        """IPython as ipykernel configures it for nbclient, minus the kernel."""

        # What libraries test to tell a Jupyter kernel from a terminal (pandas' default
        # display.max_columns, ipywidgets): a kernel, as the student's is, with nothing in it.
        kernel = None

        def _showtraceback(self, etype, evalue, stb) -> None:
            cells = getattr(self, "lms_cells", None)
            if cells is not None:
                cells.error(getattr(etype, "__name__", str(etype)), _safe_str(evalue), stb)

        def enable_gui(self, gui=None) -> None:
            pass

    GraderShell.display_pub_class = GraderDisplayPublisher
    GraderShell.displayhook_class = GraderDisplayHook
    return GraderShell


def _no_input(*args, **kwargs):
    from IPython.core.error import StdinNotImplementedError

    raise StdinNotImplementedError(
        "raw_input was called, but this frontend does not support input requests.")


class _Stream:
    """``sys.stdout``/``sys.stderr`` of the executor: text goes to the current cell."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, name: str, cells: _Cells, fd: int):
        self.name = name
        self.cells = cells
        self._fd = fd

    def write(self, text) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self.cells.stream(self.name, text)
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return False


def _executor_main(fds: dict[str, int], state) -> None:
    """Body of an executor process (a fresh child of the zygote)."""
    keep = set(fds.values())
    for fd in _open_fds():
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    cells = _Cells(fds["out"], state.cell_output_limit)
    cells.captures = [_FdCapture(1, "stdout", cells), _FdCapture(2, "stderr", cells)]
    sys.stdout = _Stream("stdout", cells, 1)
    sys.stderr = _Stream("stderr", cells, 2)
    shell = state.shell
    shell.lms_cells = cells
    cells.shell = shell
    import builtins

    builtins.input = _no_input
    sys.path.insert(0, "")  # as in a kernel: modules shipped with the submission import
    from graders import notebook_guard

    trusted = notebook_guard.install_trusted(state.snapshot)
    del state
    try:
        _serve(fds["cmd"], fds["key"], fds["report"], shell, cells, trusted)
    finally:
        os._exit(0)


def _open_fds() -> list[int]:
    try:
        return sorted(int(name) for name in os.listdir("/proc/self/fd"))
    except OSError:
        return list(range(3, 1024))


# ======================================================================================
# Zygote
# ======================================================================================
class _State:
    """What the supervisor prepared before forking: inherited by every executor."""

    def __init__(self, shell, snapshot, cell_output_limit: int):
        self.shell = shell
        self.snapshot = snapshot
        self.cell_output_limit = cell_output_limit


def _zygote_loop(sock: socket.socket, state: _State) -> None:
    signal.signal(signal.SIGCHLD, lambda signum, frame: _reap_children())
    while True:
        _reap_children()
        ready, _, _ = select.select([sock], [], [], 1.0)
        if not ready:
            continue
        try:
            request = sock.recv(1)
        except OSError:
            request = b""
        if not request:
            return
        cmd_r, cmd_w = os.pipe()
        out_r, out_w = os.pipe()
        report_r, report_w = os.pipe()
        key_r, key_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                sock.close()
                for fd in (cmd_w, out_r, report_r, key_w):
                    os.close(fd)
                _executor_main({"cmd": cmd_r, "out": out_w, "report": report_w, "key": key_r}, state)
            finally:
                os._exit(0)
        for fd in (cmd_r, out_w, report_w, key_r):
            os.close(fd)
        try:
            socket.send_fds(sock, [str(pid).encode()], [cmd_w, out_r, report_r, key_w])
        finally:
            for fd in (cmd_w, out_r, report_r, key_w):
                os.close(fd)


def _reap_children() -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class _Zygote:
    def __init__(self, sock: socket.socket, pid: int):
        self.sock = sock
        self.pid = pid

    @classmethod
    def start(cls, state: _State, result_fd: int) -> "_Zygote":
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            try:
                parent.close()
                os.close(result_fd)
                _zygote_loop(child, state)
            finally:
                os._exit(0)
        child.close()
        return cls(parent, pid)

    def spawn(self) -> "_Executor":
        self.sock.sendall(b"s")
        message, fds, _flags, _address = socket.recv_fds(self.sock, 64, 4)
        if len(fds) != 4:
            raise RuntimeError("the zygote did not start an executor")
        return _Executor(int(message), *fds)


# ======================================================================================
# Supervisor
# ======================================================================================
class _Executor:
    """The supervisor's side of one executor: its pipes, its reports and outputs."""

    def __init__(self, pid: int, cmd_fd: int, out_fd: int, report_fd: int, key_fd: int):
        self.pid = pid
        self.cmd_fd, self.out_fd, self.report_fd, self.key_fd = cmd_fd, out_fd, report_fd, key_fd
        for fd in (cmd_fd, out_fd, report_fd):
            os.set_blocking(fd, False)
        try:
            self.pidfd = os.pidfd_open(pid)
        except (OSError, AttributeError):
            self.pidfd = None
        self.key = os.urandom(32)
        self.pending = b""
        self.report_buffer = b""
        self.out_buffer = bytearray()
        self.out_discard = 0
        self.reports: list[tuple[bytes, int, int]] = []
        self.frames: dict[int, dict] = {}
        self.out_broken = False
        self.tampered = False
        self.exited = False
        self.stopped = False

    def hand_over_key(self) -> None:
        os.write(self.key_fd, self.key)
        os.close(self.key_fd)
        self.key_fd = -1

    def send(self, body: bytes) -> None:
        self.pending += FRAME.pack(len(body)) + body

    def pump(self, deadline: float, done) -> bool:
        """Move data until ``done()`` or ``deadline``; True if done."""
        while True:
            if done():
                return True
            if self.exited and not self._readable_left():
                return done()
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                return done()
            poller = select.poll()
            poller.register(self.report_fd, select.POLLIN)
            poller.register(self.out_fd, select.POLLIN)
            if self.pending:
                poller.register(self.cmd_fd, select.POLLOUT)
            if self.pidfd is not None and not self.exited:
                poller.register(self.pidfd, select.POLLIN)
            for fd, events in poller.poll(min(timeout, 0.5) * 1000):
                if fd == self.pidfd:
                    self.exited = True
                elif fd == self.cmd_fd:
                    self._write_pending()
                elif fd == self.report_fd:
                    self._read_reports(events)
                elif fd == self.out_fd:
                    self._read_outputs(events)
            if self.pidfd is None and not _alive(self.pid):
                self.exited = True

    def _readable_left(self) -> bool:
        ready, _, _ = select.select([self.report_fd, self.out_fd], [], [], 0)
        got = False
        for fd in ready:
            if fd == self.report_fd:
                got = self._read_reports(select.POLLIN) or got
            else:
                got = self._read_outputs(select.POLLIN) or got
        return got

    def _write_pending(self) -> None:
        try:
            written = os.write(self.cmd_fd, self.pending[:1 << 20])
        except BlockingIOError:
            return
        except OSError:
            self.pending = b""
            return
        self.pending = self.pending[written:]

    def _read_reports(self, events) -> bool:
        try:
            chunk = os.read(self.report_fd, 65536)
        except BlockingIOError:
            return False
        except OSError:
            chunk = b""
        if not chunk:
            return False
        self.report_buffer += chunk
        while len(self.report_buffer) >= REPORT_SIZE:
            frame = self.report_buffer[:REPORT_SIZE]
            self.report_buffer = self.report_buffer[REPORT_SIZE:]
            body, mac = frame[:REPORT_BODY], frame[REPORT_BODY:]
            counter = int.from_bytes(body[:8], "big")
            if (not hmac.compare_digest(mac, hmac.digest(self.key, body, "sha256"))
                    or counter != len(self.reports)):
                self.tampered = True
                continue
            self.reports.append((body[8:9], int.from_bytes(body[9:17], "big"),
                                 int.from_bytes(body[17:26], "big")))
        return True

    def _read_outputs(self, events) -> bool:
        try:
            chunk = os.read(self.out_fd, 1 << 20)
        except BlockingIOError:
            return False
        except OSError:
            chunk = b""
        if not chunk:
            return False
        if self.out_broken:
            return True
        self.out_buffer += chunk
        while len(self.out_buffer) >= 4:
            size = FRAME.unpack_from(self.out_buffer)[0]
            if size > MAX_OUT_FRAME:
                self.out_broken = True
                self.out_buffer.clear()
                return True
            if len(self.out_buffer) < 4 + size:
                break
            data = bytes(self.out_buffer[4:4 + size])
            del self.out_buffer[:4 + size]
            try:
                message = json.loads(data)
                seq = int(message["seq"])
            except (ValueError, KeyError, TypeError):
                continue
            self.frames[seq] = message
        return True

    def interrupt(self) -> None:
        _signal(self.pid, signal.SIGINT)

    def kill(self) -> None:
        _signal(self.pid, signal.SIGKILL)
        self.stopped = True
        for fd in (self.cmd_fd, self.out_fd, self.report_fd, self.pidfd, self.key_fd):
            if fd is not None and fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.cmd_fd = self.out_fd = self.report_fd = self.key_fd = -1
        self.pidfd = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_everything_but(keep: set[int]) -> None:
    """Every process of this sandbox except ``keep`` (a notebook's leftovers). Repeated
    until none is left, since a dying process may have forked meanwhile."""
    for attempt in range(50):
        found = False
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) in keep:
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as stat_file:
                    state = stat_file.read().rsplit(b")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state in (b"Z", b"X"):
                continue  # already dead, waiting for its parent
            found = True
            _signal(int(name), signal.SIGKILL)
        if not found:
            return
        time.sleep(0.002 * (attempt + 1))


class Supervisor:
    def __init__(self, job: dict, zygote: _Zygote, result_fd: int, state: _State):
        self.job = job
        self.zygote = zygote
        self.result_fd = result_fd
        self.shell = state.shell
        self.snapshot = state.snapshot
        self.default_timeout = float(job.get("cell_timeout", 30.0))
        self.cell_timeout = self.default_timeout
        self.submission = 0
        self.interrupt_grace = float(job.get("interrupt_grace", 3.0))
        self.output_budget = int(job.get("output_budget", 8 * 1024 * 1024))
        self.written = 0
        self.phase = lambda name: None

    def emit(self, event: dict) -> None:
        line = json.dumps(event, separators=(",", ":"), default=str).encode() + b"\n"
        if self.written + len(line) > self.output_budget and event.get("outputs"):
            # over this submission's share of the result channel: outputs go, what
            # scoring needs stays (nbgrader scores a test that wrote to stderr 0)
            stderr = any(isinstance(o, dict) and o.get("output_type") == "stream"
                         and o.get("name") == "stderr" for o in event["outputs"])
            event = dict(event, outputs=[], outputs_dropped=True, stderr=stderr)
            line = json.dumps(event, separators=(",", ":"), default=str).encode() + b"\n"
        self.written += len(line)
        _write_all(self.result_fd, line)

    def run(self) -> None:
        """Grade the job's submissions one after the other. Between two submissions
        nothing of the previous one survives: its processes are killed, the scratch
        directories emptied, its System V IPC objects removed; executors are forked from
        the zygote, which never ran student code."""
        self.emit({"event": "start"})
        submissions = self.job.get("submissions") or []
        for number, submission in enumerate(submissions):
            if number:
                _kill_everything_but({1, os.getpid(), self.zygote.pid})
                _wipe_scratch()
            if not _alive(self.zygote.pid):
                for rest in range(number, len(submissions)):
                    self.emit({"event": "submission", "submission": rest, "status": "retry"})
                break
            self.submission = number
            self.written = 0
            self.cell_timeout = float(submission.get("cell_timeout", self.default_timeout))
            self.emit({"event": "submission", "submission": number, "status": "started"})
            _write_files(submission.get("files") or [])
            for index, notebook in enumerate(submission.get("notebooks") or []):
                self.run_notebook(index, notebook)
                _kill_everything_but({1, os.getpid(), self.zygote.pid})
            self.emit({"event": "submission_end", "submission": number})
        self.emit({"event": "end"})

    def _compile(self, notebook: dict, cell: dict):
        from graders import notebook_guard

        return notebook_guard.compile_test_cell(
            cell["source"], f"<test cell {cell.get('grade_id') or cell['index']}>",
            transform=self.shell.transform_cell,
            builtin_names=set(self.snapshot.builtins),
            aliases={k: (v[0], v[1]) for k, v in (notebook.get("aliases") or {}).items()},
            instructor_names=set(notebook.get("instructor_names") or ()))

    def run_notebook(self, index: int, notebook: dict) -> None:
        cells = notebook.get("cells") or []
        commands = []
        for cell in cells:
            if cell.get("kind") == "test":
                compiled = self._compile(notebook, cell)
                body = marshal.dumps((OP_TEST, cell["index"], compiled.body, compiled.expression,
                                      compiled.quiet, compiled.warnings_text))
            else:
                body = marshal.dumps((OP_RUN, cell["index"], cell["source"]))
            commands.append(body)
        try:
            executor = self.zygote.spawn()
        except (OSError, RuntimeError) as exc:
            self._skip_rest(index, cells, 0, "crashed", f"the notebook runner did not start: {exc}")
            return
        self.phase(f"notebook {index}: compiled, executor forked")
        executor.hand_over_key()
        if not executor.pump(time.monotonic() + 60, lambda: executor.reports or executor.tampered) \
                or executor.tampered or executor.reports[0][0] != b"H":
            executor.kill()
            self._skip_rest(index, cells, 0, "crashed", "the notebook runner did not start")
            return
        self.phase(f"notebook {index}: executor ready")
        stop_reason = None
        for position, (cell, body) in enumerate(zip(cells, commands)):
            if stop_reason is not None:
                self._emit_cell(index, cell, "skipped", message=stop_reason)
                continue
            status, message, report = self._run_cell(executor, cell, body)
            frame = None
            if status not in ("killed", "crashed", "tampered"):
                seq = cell["index"]
                executor.pump(time.monotonic() + 5, lambda: seq in executor.frames or executor.exited)
                frame = executor.frames.pop(seq, None)
            self._emit_cell(index, cell, status, message=message, report=report, frame=frame)
            self.phase(f"notebook {index}: cell {cell['index']} {cell.get('kind')} {status}")
            if status in ("killed", "crashed", "tampered"):
                stop_reason = {
                    "killed": "not run: the previous cell did not stop when interrupted",
                    "crashed": "not run: the notebook's process ended",
                    "tampered": "not run: the grader's channels were tampered with",
                }[status]
                executor.kill()
        if not executor.stopped:
            executor.send(marshal.dumps((OP_EXIT,)))
            executor.pump(time.monotonic() + 1, lambda: executor.exited)
            executor.kill()
        self.emit({"event": "notebook", "submission": self.submission, "notebook": index,
                   "status": "ok" if stop_reason is None else "stopped", "message": stop_reason})

    def _run_cell(self, executor: _Executor, cell: dict, body: bytes):
        expected = len(executor.reports) + 1
        executor.send(body)
        started = time.monotonic()
        done = lambda: len(executor.reports) >= expected or executor.tampered  # noqa: E731
        got = executor.pump(started + self.cell_timeout, done)
        status = None
        message = None
        if executor.tampered:
            return "tampered", "a forged report reached the grader", None
        if not got and executor.exited:
            return "crashed", "the notebook's process ended while this cell ran", None
        if not got:
            executor.interrupt()
            got = executor.pump(time.monotonic() + self.interrupt_grace, done)
            if executor.tampered:
                return "tampered", "a forged report reached the grader", None
            if not got:
                return ("crashed", "the notebook's process ended while this cell ran", None) \
                    if executor.exited else ("killed", self._timeout_message()
                                             + " and did not stop when interrupted", None)
            status, message = "timeout", self._timeout_message()
        code, digest, value = executor.reports[expected - 1]
        if cell.get("kind") == "test":
            if code not in (b"P", b"F", b"Q") or digest != command_hash(body):
                return "tampered", "the cell that ran is not the test cell that was sent", None
            if status is None:
                status = "failed" if code == b"F" else "passed"
            report = None
            if code == b"Q":
                number = struct.unpack(">d", (value >> 1).to_bytes(8, "big"))[0]
                report = {"parsed": bool(value & 1), "number": repr(number)}
            return status, message, report
        if code != b"D":
            return "tampered", "the grader's executor reported an unexpected result", None
        return status or "ran", message, None

    def _timeout_message(self) -> str:
        return f"Cell execution timed out after {self.cell_timeout:g} seconds"

    def _emit_cell(self, index: int, cell: dict, status: str, *, message=None, report=None,
                   frame=None) -> None:
        event = {"event": "cell", "submission": self.submission, "notebook": index,
                 "index": cell["index"], "status": status, "message": message, "value": report}
        if frame is not None:
            event["outputs"] = frame.get("outputs") if isinstance(frame.get("outputs"), list) else []
            event["execution_count"] = frame.get("execution_count")
            event["ename"] = frame.get("ename")
            event["evalue"] = frame.get("evalue")
            line = frame.get("line")
            event["line"] = line if isinstance(line, int) and not isinstance(line, bool) else None
        self.emit(event)

    def _skip_rest(self, index, cells, start, status, message) -> None:
        for cell in cells[start:]:
            self._emit_cell(index, cell, "skipped" if cell is not cells[start] else status,
                            message=message)
        self.emit({"event": "notebook", "submission": self.submission, "notebook": index,
                   "status": "stopped", "message": message})


def _wipe_scratch() -> None:
    """Empty /box (keeping the directory), /tmp and /dev/shm, and remove System V IPC
    objects: what one submission leaves must not reach the next of the same run."""
    for root in (os.getcwd(), "/tmp", "/dev/shm"):
        try:
            entries = list(os.scandir(root))
        except OSError:
            continue
        for entry in entries:
            _remove_tree(entry.path)
    _remove_ipc_objects()


def _remove_tree(path: str) -> None:
    try:
        info = os.lstat(path)
    except OSError:
        return
    import stat as stat_module

    if stat_module.S_ISDIR(info.st_mode):
        try:
            os.chmod(path, 0o700)
            children = list(os.scandir(path))
        except OSError:
            children = []
        for child in children:
            _remove_tree(child.path)
        try:
            os.rmdir(path)
        except OSError:
            pass
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def _remove_ipc_objects() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
    except (ImportError, OSError):
        return
    for kind, remove in (("shm", lambda i: libc.shmctl(i, 0, None)),
                         ("msg", lambda i: libc.msgctl(i, 0, None)),
                         ("sem", lambda i: libc.semctl(i, 0, 0))):
        try:
            with open(f"/proc/sysvipc/{kind}") as table:
                rows = table.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 1 and fields[1].isdigit():
                remove(int(fields[1]))  # IPC_RMID = 0


def _write_files(files) -> None:
    root = os.getcwd()
    for entry in files:
        relative, encoded = entry[0], entry[1]
        parts = [p for p in str(relative).split("/") if p not in ("", ".")]
        if not parts or ".." in parts or str(relative).startswith("/"):
            continue
        path = os.path.join(root, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64decode(encoded))


# ======================================================================================
# Start-up
# ======================================================================================
def _make_undumpable() -> None:
    """Make this process (and what it forks) non-dumpable: its /proc files become
    root's, so other processes of the run can neither open its memory nor its
    descriptors (and no core file is written)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")


def _prepare(preload: list[str], judge: bool, cell_output_limit: int) -> _State:
    import builtins
    import warnings

    from traitlets.config import Config

    from graders import notebook_guard

    # The interpreter starts with -S (no site-packages of the host's choosing on sys.path),
    # which also leaves out the builtins site.py gives every interpreter a student's kernel
    # runs in: help, copyright, credits, license, exit, quit. A cell that works in
    # JupyterLab must work here too (the guard's snapshot below then keeps them).
    import site

    site.setquit()
    site.setcopyright()
    site.sethelper()
    shell_class = _build_shell_classes()
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = shell_class.instance(config=config)
    shell.lms_cells = None
    # Plain tracebacks (Python's own layout, source lines included): ipykernel's default
    # "Context" mode costs ~10 ms per failing cell, and unsolved exercises all fail.
    shell.InteractiveTB.set_mode(mode="Plain")
    if judge:
        # the magic's local backend imports these when a cell first runs: load them
        # before the executor's audit hook exists
        preload = [*preload, "graders.languages", "graders.sandbox", "tempfile", "resource"]
        try:
            shell.extension_manager.load_extension("lms_extension.kernel.judge")
        except Exception as exc:  # the magic is optional: cells using it will fail
            print(f"lms: judge magic unavailable: {exc}", file=sys.__stderr__)
    # imported as a cell would import them: libraries that look for a kernel when they load
    # (pandas picks display.max_columns by it) must find get_ipython() and see one
    with shell.builtin_trap:
        for name in preload:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    __import__(name)
            except Exception:
                pass
    shell.run_cell("pass", store_history=False, silent=True)
    shell.execution_count = 1
    _report_lines()  # fail now, not in an executor, if the loop lost a report line
    with shell.builtin_trap:
        snapshot = notebook_guard.Snapshot(builtins.__dict__)
    return _State(shell, snapshot, cell_output_limit)


def _read_job() -> dict:
    chunks = []
    while True:
        chunk = os.read(0, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    try:  # stdin is a memfd shared with bubblewrap's init: empty it for everyone
        os.ftruncate(0, 0)
    except OSError:
        pass
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return json.loads(b"".join(chunks))


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="graders.notebook_runner")
    parser.add_argument("--preload", default="")
    parser.add_argument("--judge", action="store_true")
    parser.add_argument("--cell-output-limit", type=int, default=DEFAULT_CELL_OUTPUT_LIMIT)
    parser.add_argument("--timing", action="store_true", help="phase timings on stderr")
    args = parser.parse_args(argv)
    started = time.monotonic()

    def phase(name: str) -> None:
        if args.timing:
            print(f"lms-runner {name}: {time.monotonic() - started:.3f}s", file=sys.__stderr__)

    # Our stdout is the host's result channel: keep it for ourselves only.
    result_fd = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    _make_undumpable()
    state = _prepare([n for n in args.preload.split(",") if n], args.judge, args.cell_output_limit)
    phase("prepared")
    zygote = _Zygote.start(state, result_fd)
    job = _read_job()
    supervisor = Supervisor(job, zygote, result_fd, state)
    supervisor.phase = phase
    try:
        supervisor.run()
        phase("done")
    finally:
        _signal(zygote.pid, signal.SIGKILL)
