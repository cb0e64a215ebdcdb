"""Fixtures for the account-email tests: the real platform (``lms run``) with a real ``lms worker``
delivering over SMTP to aiosmtpd, and helpers that read the links from the received emails."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
import requests
from sqlalchemy import create_engine

from tests.conftest import REPO
from tests.e2e.platform import Platform
from tests.mail.conftest import SMTPServer, wait_for

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hub(tmp_path_factory, smtp):
    data = tmp_path_factory.mktemp("account-email") / "data"
    mail_env = {"LMS_SMTP_HOST": "127.0.0.1", "LMS_SMTP_PORT": str(smtp.port), "LMS_SMTP_STARTTLS": "0",
                "LMS_SMTP_FROM": "Jupyter LMS <noreply@lms.test>", "LMS_EMAIL_REQUESTS_PER_ADDRESS": "40/3600"}
    p = Platform(data, extra_env=mail_env).start()
    worker_env = {**p.env, "LMS_WORKER_POLL_SECONDS": "0.1", "LMS_TRENDING_REFRESH_SECONDS": "0",
                  "LMS_ANALYTICS_REFRESH_SECONDS": "0", "LMS_JUDGE0_EXPIRY_SECONDS": "0",
                  "LMS_RECONCILE_INTERVAL_SECONDS": "0", "LMS_CHECKOUT_EXPIRY_SECONDS": "0"}
    log = open(data.parent / "worker.log", "wb")
    worker = subprocess.Popen([sys.executable, "-m", "lms_extension.cli", "worker"], cwd=REPO, env=worker_env,
                              stdout=log, stderr=subprocess.STDOUT)
    p.db = create_engine(f"sqlite:///{data / 'lms.sqlite'}")
    yield p
    worker.terminate()
    try:
        worker.wait(15)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(5)
    p.db.dispose()
    p.stop()
    errors = [line for line in p.log().splitlines() if re.search(r"\b500 (GET|POST)\b", line)]
    assert not errors, "the platform answered 500:\n" + "\n".join(errors)
    log = p.log_path.read_text(errors="replace")
    assert "password reset request failed" not in log and "Uncaught exception" not in log


def mails_to(smtp: SMTPServer, address: str) -> list:
    with smtp.inbox.lock:
        return [r["message"] for r in smtp.inbox.received if address in r["rcpt_tos"]]


def next_mail(smtp: SMTPServer, address: str, seen: int = 0, timeout: float = 30):
    wait_for(lambda: len(mails_to(smtp, address)) > seen, timeout, f"an email to {address}")
    return mails_to(smtp, address)[seen]


def link_in(message, pattern: str) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(pattern + r"\?token=[A-Za-z0-9_-]{43}", body).group(0)


def xsrf(s: requests.Session, url: str) -> str:
    return re.search(r'name="_xsrf" value="([^"]+)"', s.get(url).text).group(1)


def signup(p: Platform, name: str, address: str) -> requests.Session:
    s = requests.Session()
    r = s.post(f"{p.url}/hub/signup", data={
        "username": name, "signup_password": PASSWORD, "signup_password_confirmation": PASSWORD,
        "email": address, "display_name": name.title(), "_xsrf": xsrf(s, f"{p.url}/hub/signup")})
    assert r.status_code == 200 and r.url.startswith(p.lms), (r.status_code, r.url)
    return s


def forgot(p: Platform, address: str, s: requests.Session | None = None) -> requests.Response:
    s = s or requests.Session()
    return s.post(f"{p.url}/hub/forgot-password",
                  data={"email": address, "_xsrf": xsrf(s, f"{p.url}/hub/forgot-password")})


def without_tokens(html: str) -> str:
    """A page without its per-request xsrf tokens (the form's and JupyterHub's script's)."""
    return re.sub(r'xsrf_token: "[^"]*"', 'xsrf_token: ""', re.sub(r'value="[^"]*"', 'value=""', html))
