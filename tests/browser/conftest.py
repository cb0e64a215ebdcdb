"""Real Chromium (Debian's package) driven by Playwright, shared by the browser tests."""
import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("LMS_CHROMIUM", "/usr/bin/chromium")


# per module, not per session: Playwright's sync API keeps an event loop running in the
# main thread while it lives, and later tests that call asyncio.run() would fail
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} missing: `make test` installs Debian's chromium")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium) — the browser path is untested here")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-background-networking", "--disable-gpu",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()
