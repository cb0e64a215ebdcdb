"""The warm Python runner: an interpreter started ahead of time in a fresh sandbox, waiting
for one program.

``python3 -c LAUNCHER <fd> script.py`` starts inside a sandbox that is complete in every
respect (namespaces, cgroup, uid, tmpfs, seccomp, limits) and blocks on the socket ``<fd>``
before running anything of a student's. The host then writes ``/box/script.py`` and sends
one message: the program's arguments (NUL-separated) with its stdin as a memfd
(``SCM_RIGHTS``). The launcher puts that memfd on fd 0, forgets the modules it imported,
and runs the script as ``python3 script.py`` would: ``__main__`` with a fresh namespace,
``sys.argv``, ``sys.path[0] = "/box"``, tracebacks without the launcher's frames, exit
status 1 on an uncaught exception. The sandbox is used for that one program and then torn
down like any other, so isolation per run is unchanged; what is saved is the
interpreter's start-up (about 10 ms), done while no run waits for it.

The host's side (keeping spares, handing a run to one) is :mod:`graders.warm_pool`.

The text of ``LAUNCHER`` is what runs; it is kept self-contained (only the standard
library, nothing from this package) because it runs with the sandbox's read-only /usr.
"""

LAUNCHER = r'''
def _lms_warm_start():
    import sys
    before = set(sys.modules)
    import os, socket
    control = socket.socket(fileno=int(sys.argv[1]))
    try:
        message, fds, _flags, _address = socket.recv_fds(control, 1 << 16, 4)
    except OSError:
        os._exit(125)
    control.close()
    if len(fds) != 1 or not message.startswith(b"go\0"):
        os._exit(125)  # the host gave up on this spare: nothing ran
    os.dup2(fds[0], 0)
    os.close(fds[0])
    script = sys.argv[2]
    arguments = [os.fsdecode(a) for a in message[3:].split(b"\0")[:-1]]
    for name in set(sys.modules) - before:
        del sys.modules[name]
    path = os.path.join(os.getcwd(), script)
    sys.argv = [script, *arguments]
    sys.path[0] = os.path.dirname(path)
    main = sys.modules["__main__"].__dict__
    builtins = main["__builtins__"]
    main.clear()
    main.update(__name__="__main__", __doc__=None, __package__=None, __spec__=None,
                __loader__=None, __annotations__={}, __builtins__=builtins,
                __file__=path, __cached__=None)
    try:
        with open(path, "rb") as f:
            code = compile(f.read(), path, "exec")
        del f
        exec(code, main)
    except SystemExit:
        raise
    except BaseException as error:
        trace = error.__traceback__
        while trace is not None and trace.tb_frame.f_code.co_filename == "<string>":
            trace = trace.tb_next
        error.__traceback__ = trace  # what the hook prints: without the launcher's frames
        sys.excepthook(type(error), error, trace)
        raise SystemExit(1)
_lms_warm_start()
'''
