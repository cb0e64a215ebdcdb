"""The bundled Stripe test server cannot be steered by students or left running in production.

- its API and its ``/_test`` controls answer only to the configured secret key;
- the hosted pages a buyer visits work without a key, but only for unguessable ids;
- its secrets never appear on a command line (``ps``, ``/proc/*/cmdline``);
- it starts only in demo mode, and outside demo mode checkout refuses to run without real
  Stripe keys unless a test server is named explicitly (a clear page for the buyer, a log
  line for the operator).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import stripe
import yaml

from stripe_test_server.testing import running_server
from tests.e2e.platform import Platform

REPO = Path(__file__).resolve().parents[2]
PAID = "data-analysis-with-pandas"


@pytest.fixture
def srv():
    with running_server() as s:
        yield s


def _session(srv):
    client = srv.client()
    return client.v1.checkout.sessions.create({
        "mode": "payment", "success_url": "http://127.0.0.1:1/ok", "cancel_url": "http://127.0.0.1:1/no",
        "line_items": [{"price_data": {"currency": "usd", "unit_amount": 4900, "product_data": {"name": "Course"}},
                        "quantity": 1}]})


def test_api_answers_only_to_the_configured_key(srv):
    # any other test-mode key, as a student would guess it, is refused like Stripe refuses a bad key
    for key in ("sk_test_1", "sk_test_jupyter_lms_demo", "sk_test_stripe_test_server", srv.api_key + "x"):
        r = requests.get(f"{srv.url}/v1/customers", headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert r.status_code == 401, (key, r.status_code, r.text)
        assert "Invalid API Key provided" in r.json()["error"]["message"]
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient("sk_test_guess", base_addresses={"api": srv.url}).v1.refunds.list()
    assert requests.get(f"{srv.url}/v1/customers", timeout=10).status_code == 401
    ok = requests.get(f"{srv.url}/v1/customers", headers={"Authorization": f"Bearer {srv.api_key}"}, timeout=10)
    assert ok.status_code == 200


def test_test_controls_answer_only_to_the_configured_key(srv):
    session = _session(srv)
    attempts = [("GET", "", None), ("POST", "reset", {}), ("POST", "clock/advance", {"seconds": 90000}),
                ("POST", f"checkout/sessions/{session.id}/pay", {"card": "4242424242424242"}),
                ("POST", "webhooks/chaos", {"bad_signature": True}), ("GET", "webhooks/deliveries", None)]
    for method, path, body in attempts:
        for headers in ({}, {"Authorization": "Bearer sk_test_1"}, {"Authorization": "Bearer sk_live_1"}):
            r = requests.request(method, f"{srv.url}/_test/{path}", json=body, headers=headers, timeout=10)
            assert r.status_code == 401, (method, path, headers, r.status_code, r.text[:200])
    # nothing happened: the session is still open, the clock did not move
    assert srv.client().v1.checkout.sessions.retrieve(session.id).status == "open"
    assert srv.control("GET", "clock")["offset"] == 0
    # with the key (what the tests' helpers send) the controls work
    assert srv.pay(session.id, email="a@example.org")["status"] == "complete"


def test_hosted_checkout_works_for_the_buyer_and_only_for_unguessable_ids(srv):
    session = _session(srv)
    # the buyer's browser has no key: the hosted page still works
    assert requests.get(session.url, timeout=10).status_code == 200
    # the id in its URL is the capability: at least 128 random bits
    random_part = session.id.split("_", 2)[-1]
    assert len(random_part) >= 22 and re.fullmatch(r"[A-Za-z0-9]+", random_part), session.id
    guessed = session.url.rsplit("/", 1)[0] + "/" + session.id[:-1] + ("A" if session.id[-1] != "A" else "B")
    assert requests.get(guessed, timeout=10).status_code == 404
    paid = requests.post(session.url, data={"email": "a@example.org", "card_number": "4242 4242 4242 4242",
                                            "expiry": "12 / 34", "cvc": "123"}, allow_redirects=False, timeout=10)
    assert paid.status_code == 303
    # refunding it needs the secret key
    pi = srv.client().v1.checkout.sessions.retrieve(session.id).payment_intent
    r = requests.post(f"{srv.url}/v1/refunds", data={"payment_intent": pi}, timeout=10)
    assert r.status_code == 401
    r = requests.post(f"{srv.url}/v1/refunds", data={"payment_intent": pi}, auth=("sk_test_x", ""), timeout=10)
    assert r.status_code == 401


def test_express_dashboard_is_reached_through_a_login_link_not_an_account_id(srv):
    client = srv.client()
    account = client.v1.accounts.create({"type": "express", "email": "t@example.org",
                                          "capabilities": {"transfers": {"requested": True}}})
    srv.control("POST", f"accounts/{account.id}/onboard", business_name="Ada")
    assert requests.get(f"{srv.url}/connect/express/{account.id}", timeout=10).status_code == 404
    link = client.v1.accounts.login_links.create(account.id)
    assert account.id not in link.url
    assert requests.get(link.url, timeout=10).status_code == 200


def test_command_line_takes_no_secret(tmp_path):
    from hub_config import stripe_demo
    from lms_extension.config import LMSConfig

    config = LMSConfig(environ={"LMS_DEMO": "1", "LMS_DATA_DIR": str(tmp_path)})
    service = stripe_demo.configure(config)
    key, secret = config.stripe_secret_key, config.stripe_webhook_secret
    command = " ".join(service["command"])
    assert secret not in command and key not in command and "whsec_" not in command and "sk_test" not in command
    # the demo key is random per installation, kept like the webhook secret in 0600 files
    assert key.startswith("sk_test_") and len(key) >= 40 and key != "sk_test_jupyter_lms_demo"
    for name in ("stripe-test-webhook-secret", "stripe-test-secret-key"):
        assert (tmp_path / name).stat().st_mode & 0o077 == 0, name
    r = subprocess.run([sys.executable, "-m", "stripe_test_server", "--webhook-url", "http://127.0.0.1:9/x",
                        "--webhook-secret", "whsec_x", "--port", "9"], cwd=REPO, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "environment" in r.stderr, r.stderr


def platform_commands(p: Platform) -> dict[int, str]:
    """The command lines of the platform's processes."""
    parents, commands = {}, {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            parents[int(pid)] = int(stat.rsplit(")", 1)[1].split()[1])
            commands[int(pid)] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
        except (OSError, ValueError, IndexError):
            continue
    tree, grew = {p.proc.pid}, True
    while grew:  # the processes descending from ``lms run`` (services start sessions of their own)
        before = len(tree)
        tree |= {pid for pid, parent in parents.items() if parent in tree}
        grew = len(tree) > before
    return {pid: commands[pid] for pid in tree if pid in commands}


def test_no_process_of_the_demo_platform_shows_a_secret_on_its_command_line(sandbox_platform):
    data = sandbox_platform.data_dir
    secrets = [(data / "stripe-test-webhook-secret").read_text().strip(),
               (data / "stripe-test-secret-key").read_text().strip()]
    seen = []
    for pid in filter(str.isdigit, os.listdir("/proc")):  # every process of the machine
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        for secret in secrets:
            assert secret not in cmdline, f"pid {pid} shows a secret: {cmdline[:300]}"
    seen = [pid for pid, cmd in platform_commands(sandbox_platform).items() if "stripe_test_server" in cmd]
    assert seen, "the demo platform runs the Stripe test server"
    out = subprocess.run(["ps", "axww", "-o", "args"], capture_output=True, text=True).stdout
    assert not any(s in out for s in secrets)


def test_the_test_server_starts_only_in_demo_mode(tmp_path):
    from hub_config import stripe_demo
    from lms_extension.config import LMSConfig

    config = LMSConfig(environ={"LMS_DEMO": "0", "LMS_DATA_DIR": str(tmp_path)})
    assert stripe_demo.configure(config) is None
    assert config.stripe_api_base == "https://api.stripe.com" and not config.stripe_secret_key
    r = subprocess.run([sys.executable, "-m", "stripe_test_server", "--port", "9"], cwd=REPO, capture_output=True,
                       text=True, timeout=60, env={**os.environ, "LMS_DEMO": "0"})
    assert r.returncode == 2 and "demo mode" in r.stderr, r.stderr


def test_deployment_files_use_real_keys_and_no_test_server():
    compose = yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())
    env = compose["x-lms-env"]
    assert env["LMS_DEMO"] == "0"
    assert "LMS_STRIPE_API_BASE" not in env
    assert "LMS_STRIPE_SECRET_KEY" in env and "LMS_STRIPE_WEBHOOK_SECRET" in env and "LMS_PUBLIC_URL" in env
    assert all(not str(v).startswith(("sk_", "whsec_")) for v in env.values())  # from docker/.env, not the file
    assert "stripe" not in " ".join(compose["services"])
    example = (REPO / "docker" / "lms.env.example").read_text()
    assert "LMS_STRIPE_SECRET_KEY=" in example and "LMS_STRIPE_WEBHOOK_SECRET=" in example
    deployment = list(yaml.safe_load_all((REPO / "docker" / "kubernetes" / "lms-deployment.yaml").read_text()))
    containers = [c for d in deployment if d and d.get("kind") == "Deployment"
                  for c in d["spec"]["template"]["spec"]["containers"]]
    for c in containers:
        names = {e["name"]: e for e in c.get("env", [])}
        assert names["LMS_DEMO"]["value"] == "0"
        assert "LMS_STRIPE_API_BASE" not in names
        for secret in ("LMS_STRIPE_SECRET_KEY", "LMS_STRIPE_WEBHOOK_SECRET"):
            assert "secretKeyRef" in names[secret]["valueFrom"], (c["name"], secret)
        assert "LMS_PUBLIC_URL" in names
    readme = (REPO / "README.md").read_text()
    assert "LMS_STRIPE_SECRET_KEY" in readme and "LMS_STRIPE_WEBHOOK_SECRET" in readme
    assert "dashboard.stripe.com" in readme


# -- outside demo mode: no keys, no checkout -------------------------------------------------------------
def _publish_course(p: Platform) -> None:
    subprocess.run([str(Path(sys.executable).parent / "lms"), "course", "publish", str(REPO / "courses" / PAID)],
                   env=p.env, cwd=REPO, check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def production_platform(tmp_path_factory):
    """``LMS_DEMO=0`` and no Stripe settings at all: what a fresh server install looks like."""
    env = {"LMS_DEMO": "0"}
    p = Platform(tmp_path_factory.mktemp("prod-platform") / "data", extra_env=env)
    for name in ("LMS_STRIPE_API_BASE", "LMS_STRIPE_SECRET_KEY", "LMS_STRIPE_WEBHOOK_SECRET"):
        p.env.pop(name, None)
    p.start()
    _publish_course(p)
    yield p
    p.stop()


def test_without_real_keys_checkout_refuses_clearly(production_platform):
    p = production_platform
    log_before = p.log_path.read_text(errors="replace")
    commands = platform_commands(p)
    assert any("jupyterhub" in c for c in commands.values()), commands
    assert not any("stripe_test_server" in c for c in commands.values()), commands
    token = p.token("buyer1")
    s = p.as_user(token)
    page = s.get(f"{p.lms}checkout?course={PAID}", timeout=30)
    assert page.status_code == 200, page.text[:300]
    assert "Payments are not set up" in page.text and 'id="pay"' not in page.text
    s.get(f"{p.lms}courses/{PAID}", timeout=30)  # a page with forms: the service sets its xsrf cookie
    xsrf = next(c.value for c in s.cookies if c.name == "_xsrf")
    post = s.post(f"{p.lms}checkout", data={"course": PAID, "_xsrf": xsrf}, allow_redirects=False, timeout=30)
    assert post.status_code == 503 and "Payments are not set up" in post.text, post.text[:500]
    assert "<html" in post.text.lower()
    api = s.post(f"{p.lms}api/v1/payments/checkout", json={"course": PAID}, timeout=30)
    assert api.status_code == 503 and "Payments are not set up" in api.json()["message"]
    assert "Internal server error" not in post.text + api.text
    # the operator reads why in the service's log (at start)
    assert "LMS_STRIPE_SECRET_KEY" in log_before


@pytest.mark.parametrize("env, ok", [
    ({"LMS_STRIPE_SECRET_KEY": "sk_test_jupyter_lms_demo"}, False),
    ({"LMS_STRIPE_SECRET_KEY": "sk_live_abc"}, False),  # no webhook secret: paid orders would never be fulfilled
    ({"LMS_STRIPE_SECRET_KEY": "sk_live_abc", "LMS_STRIPE_WEBHOOK_SECRET": "whsec_abc"}, True),
    ({"LMS_STRIPE_API_BASE": "http://127.0.0.1:12111", "LMS_STRIPE_SECRET_KEY": "sk_test_x",
      "LMS_STRIPE_WEBHOOK_SECRET": "whsec_x"}, True),
    ({}, False),
])
def test_payments_readiness_outside_demo(monkeypatch, tmp_path, env, ok):
    from lms_extension.config import LMSConfig
    from lms_extension.services.payments.stripe_client import readiness

    for name in ("LMS_STRIPE_API_BASE", "LMS_STRIPE_SECRET_KEY", "LMS_STRIPE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LMS_DEMO", "0")
    monkeypatch.setenv("LMS_DATA_DIR", str(tmp_path))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    problem = readiness(LMSConfig())
    assert (problem is None) == ok, problem
