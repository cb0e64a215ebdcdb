"""The `lms` command as DESIGN.md promises it: options before or after positionals."""
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.platform import free_port

LMS = str(Path(sys.executable).with_name("lms"))


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox behind `lms judge0` needs root")
def test_lms_judge0_port_serves_the_api(tmp_path):
    port = free_port()
    # its submissions go to the LMS database: the default one, under LMS_DATA_DIR
    env = {**os.environ, "LMS_DATA_DIR": str(tmp_path)}
    env.pop("LMS_DB_URL", None)
    server = subprocess.Popen([LMS, "judge0", "--port", str(port), "--workers", "1", "--warm-spares", "0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/about", timeout=1) as answer:
                    assert answer.status == 200 and b"version" in answer.read()
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "lms judge0 did not answer"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert (tmp_path / "lms.sqlite").exists()


def test_pass_through_commands_show_their_own_help():
    done = subprocess.run([LMS, "judge0", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--warm-spares" in done.stdout


def test_unknown_options_are_refused_where_nothing_takes_them():
    done = subprocess.run([LMS, "worker", "--bogus"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "unrecognized arguments: --bogus" in done.stderr
