"""A student whose server cannot start is told why: on the spawn page and in the hub's API.

The failure is a real one a student can cause: a Jupyter configuration file in their home
that stops the server while it starts. Before, the hub answered 500 "Exception is not set"
(or timed out) and the page said nothing useful.
"""
from __future__ import annotations

import html
import json
import time

from tests.e2e.kernel import run_code
from tests.e2e.platform import Platform

REASON = "this configuration is broken on purpose"
PASSWORD = "broken-config-pw-42"


def spawn_failure_message(p: Platform, name: str) -> tuple[int, str]:
    """Start ``name``'s server through the hub API; the status and the reason the hub gives."""
    r = p.hub("POST", f"users/{name}/server")
    if r.status_code != 202:
        return r.status_code, r.text
    # still starting when the API answered: the reason arrives in the progress events
    events = p.hub("GET", f"users/{name}/server/progress", stream=True)
    last = ""
    for line in events.iter_lines(decode_unicode=True):
        if line and line.startswith("data:"):
            last = line[5:]
            event = json.loads(last)
            if event.get("failed") or event.get("ready"):
                break
    return 202, last


def test_a_server_that_stops_while_starting_says_why(sandbox_platform):
    p = sandbox_platform
    name = "brokenconf"
    assert p.signup(name, PASSWORD).status_code == 200
    token = p.token(name)
    p.start_server(name)
    # from the student's own kernel, as a student would break it
    config = f"import sys\nsys.exit({REASON!r})\n"
    out = run_code(p.url, name, token, "import os\nos.makedirs(os.path.expanduser('~/.jupyter'), exist_ok=True)\n"
                   f"open(os.path.expanduser('~/.jupyter/jupyter_server_config.py'), 'w').write({config!r})")
    assert out["error"] is None, out
    p.stop_server(name)

    started = time.monotonic()
    status, message = spawn_failure_message(p, name)
    assert REASON in message, (status, message)
    assert "Exception is not set" not in message
    assert status != 500 or "stopped while starting" in message, (status, message)
    assert time.monotonic() - started < 100  # not the hub's own 120 s timeout

    # the student's own view: the spawn-pending page names the reason
    browser = p.login(name, PASSWORD)
    page = browser.get(f"{p.url}/hub/spawn-pending/{name}")
    text = html.unescape(page.text)
    assert REASON in text, page.text[-2000:]
    assert "Exception is not set" not in text
