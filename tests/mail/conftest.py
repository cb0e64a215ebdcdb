"""Fixtures for the email tests: a real SMTP server (aiosmtpd, in a thread of the test process,
optionally with STARTTLS on a self-signed certificate and AUTH), a database of the package's
own on SQLite and PostgreSQL, and real ``lms worker`` processes."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import delete

from lms_extension.db import session_factory
from lms_extension.models.mail import MailOutbox
from tests.conftest import REPO, own_engine

SENDER = "Jupyter LMS <noreply@lms.test>"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """What the SMTP server received; ``refuse`` maps a recipient to the reply that refuses it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received: list[dict] = []
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append({"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                                  "message": msg, "tls": session.ssl is not None,
                                  "authenticated": session.authenticated,
                                  "login": getattr(session.auth_data, "login", None)})
        return "250 Message accepted for delivery"

    def message_ids(self) -> Counter:
        with self.lock:
            return Counter(r["message"]["Message-ID"] for r in self.received)

    def count(self) -> int:
        with self.lock:
            return len(self.received)


class SMTPServer:
    def __init__(self, port: int | None = None, *, tls: ssl.SSLContext | None = None,
                 credentials: tuple[str, str] | None = None):
        self.port = port or free_port()
        self.inbox = Inbox()
        kwargs = {}
        if tls is not None:
            kwargs.update(tls_context=tls, require_starttls=True)
        if credentials is not None:
            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = (auth_data.login.decode(), auth_data.password.decode()) == credentials
                return AuthResult(success=ok, handled=False, auth_data=auth_data)
            kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=tls is not None)
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port,
                                     server_hostname="lms.test", **kwargs)

    def start(self) -> "SMTPServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp_server():
    servers = []

    def start(**kwargs) -> SMTPServer:
        server = SMTPServer(**kwargs).start()
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def server_tls(certificate) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*certificate)
    return ctx


@pytest.fixture(scope="package")
def mail_engine(db_url, tmp_path_factory):
    # the product's own engine (no savepoint recipe): workers and threads commit for real
    yield from own_engine(db_url, tmp_path_factory, real_savepoints=False)


@pytest.fixture
def factory(mail_engine):
    with mail_engine.begin() as conn:
        conn.execute(delete(MailOutbox))
    return session_factory(mail_engine)


class Workers:
    """``python -m lms_extension.cli worker`` processes on the test database."""

    def __init__(self, db_url: str, data_dir: Path, log_dir: Path):
        self.db_url, self.data_dir, self.log_dir = db_url, data_dir, log_dir
        self.procs: list[subprocess.Popen] = []

    def start(self, smtp_port: int, **env) -> subprocess.Popen:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
        environ.update({
            "LMS_DB_URL": self.db_url, "LMS_DATA_DIR": str(self.data_dir), "LMS_DEMO": "0",
            "LMS_SMTP_HOST": "127.0.0.1", "LMS_SMTP_PORT": str(smtp_port), "LMS_SMTP_STARTTLS": "0",
            "LMS_SMTP_FROM": SENDER, "LMS_SMTP_TIMEOUT_SECONDS": "1", "LMS_MAIL_LEASE_SECONDS": "4",
            "LMS_MAIL_BATCH_SIZE": "20", "LMS_WORKER_POLL_SECONDS": "0.1",
            "LMS_TRENDING_REFRESH_SECONDS": "0", "LMS_ANALYTICS_REFRESH_SECONDS": "0",
            "LMS_JUDGE0_EXPIRY_SECONDS": "0", "LMS_RECONCILE_INTERVAL_SECONDS": "0",
            "LMS_CHECKOUT_EXPIRY_SECONDS": "0",
        })
        environ.update({k: str(v) for k, v in env.items()})
        log = open(self.log_dir / f"worker-{len(self.procs)}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "lms_extension.cli", "worker"], cwd=REPO, env=environ,
                                stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.log_dir.glob("worker-*.log")))

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@pytest.fixture
def workers(mail_engine, tmp_path):
    url = mail_engine.url.render_as_string(hide_password=False)
    (tmp_path / "logs").mkdir()
    w = Workers(url, tmp_path / "data", tmp_path / "logs")
    yield w
    w.stop_all()


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what() if callable(what) else what}")
