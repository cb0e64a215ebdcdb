"""Commerce fixtures: courses with instructors, buyers, the policy; the Stripe test server."""
from __future__ import annotations

import pytest

from tests.conftest import own_engine

from lms_extension.services.payments.invoices import Seller
from lms_extension.services.payments.policy import CommercePolicy
from lms_extension.services.payments.tax import TaxTable
from tests.factories import make_course, make_user


def pytest_configure(config):
    config.addinivalue_line("markers", "stripe_server(**opts): options of the Stripe test server for `shop`")


@pytest.fixture
def policy():
    return CommercePolicy(platform_share_percent=30, refund_window_days=30, refund_max_progress_percent=30,
                          payout_hold_days=30, seller=Seller("Notebook Academy GmbH", "1 Notebook Street;10115 Berlin;Germany",
                                                             "DE123456789"),
                          taxes=TaxTable.load("builtin"))


@pytest.fixture
def paid_course(session, tmp_path):
    return make_course(session, tmp_path, "paid-course", price_cents=4900, lessons=4, instructor="teacher")


@pytest.fixture
def buyer(session):
    return make_user(session, "buyer")


# -- the Stripe test server and an LMS webhook endpoint in front of the real services ----------
import http.server  # noqa: E402
import secrets  # noqa: E402
import threading  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from lms_extension.db import session_factory  # noqa: E402
from lms_extension.errors import LMSError  # noqa: E402
from lms_extension.services.payments import webhooks  # noqa: E402


class LMSWebhookEndpoint:
    """``/api/v1/payments/webhook`` without Tornado: the same verify + handle + commit, on a real
    database, answering 400 / 503 / 200 as the service does. ``fail_next(n)`` answers 500 first."""

    def __init__(self, factory, stripe_client_ref: dict, policy: CommercePolicy):
        self.secret = f"whsec_{secrets.token_hex(16)}"
        self.statuses: list[int] = []
        self._fail = 0
        self.lock = threading.Lock()
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with endpoint.lock:
                    fail, endpoint._fail = endpoint._fail > 0, max(0, endpoint._fail - 1)
                if fail:
                    status = 500
                else:
                    status = endpoint.deliver(body, self.headers.get("Stripe-Signature"))
                with endpoint.lock:
                    endpoint.statuses.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.factory, self.client_ref, self.policy = factory, stripe_client_ref, policy
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/services/lms/api/v1/payments/webhook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def deliver(self, body: bytes, signature: str | None) -> int:
        try:
            event = webhooks.verify(body, signature, self.secret)
        except LMSError as exc:
            return exc.status
        with self.factory() as db:
            try:
                webhooks.handle(db, self.client_ref["client"], self.policy, event)
                db.commit()
                return 200
            except LMSError as exc:
                db.rollback()
                return exc.status
            except Exception:  # noqa: BLE001 - a database race: the service answers 503 too
                db.rollback()
                return 503

    def fail_next(self, n: int) -> None:
        with self.lock:
            self._fail += n

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Shop:
    srv: object
    stripe: object
    endpoint: LMSWebhookEndpoint
    factory: object
    policy: CommercePolicy
    tag: str


@pytest.fixture
def shop(engine, policy, request):
    from stripe_test_server.testing import running_server

    marker = request.node.get_closest_marker("stripe_server")
    opts = {"retry_base": 0.1, "async_delay": 1, "dispute_delay": 1, **(marker.kwargs if marker else {})}
    factory = session_factory(engine)
    ref: dict = {}
    endpoint = LMSWebhookEndpoint(factory, ref, policy)
    with running_server(webhook_url=endpoint.url, webhook_secret=endpoint.secret, **opts) as srv:
        ref["client"] = srv.client()
        yield Shop(srv, ref["client"], endpoint, factory, policy, uuid.uuid4().hex[:8])
    endpoint.close()


@pytest.fixture(scope="package")
def engine(db_url, tmp_path_factory):
    """This package's own database (see tests/conftest.py: own_engine). pysqlite's own
    transactions here: the webhook receiver's threads write while tests read, and a read
    transaction upgraded to a write would meet "database is locked"."""
    yield from own_engine(db_url, tmp_path_factory, real_savepoints=False)
