"""End to end on the real platform (hub + proxy + LMS service + the Stripe test server that
`lms run` starts): checkout over the API, the hosted page, the webhook, the lesson, the invoice,
a refund approved by the instructor, and the hostile cases."""
import io
import json
import time

import requests
from pypdf import PdfReader

PAID = "data-analysis-with-pandas"


def stripe_base(checkout_url: str) -> str:
    return checkout_url.split("/checkout/")[0]


def wait_order(s, p, order_id, status, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        order = s.get(f"{p.lms}api/v1/payments/orders/{order_id}").json()
        if order["status"] == status:
            return order
        time.sleep(0.3)
    raise AssertionError(f"order {order_id}: {order}")


def locked_lesson(s, p):
    course = s.get(f"{p.lms}api/v1/courses/{PAID}").json()
    return next(ls["id"] for ls in course["lessons"] if not ls["free_preview"])


def test_purchase_refund_and_hostile_requests(platform):
    p = platform
    buyer = p.as_user(p.token("shopper"))
    other = p.as_user(p.token("snooper"))
    api = f"{p.lms}api/v1/payments/"
    lesson = locked_lesson(buyer, p)
    assert buyer.get(f"{p.lms}api/v1/courses/{PAID}/lessons/{lesson}/notebook").status_code == 403
    assert buyer.post(f"{p.lms}api/v1/courses/{PAID}/enroll").status_code == 402

    # hostile checkouts: tampered price, unknown things, bad country, negative or wrong types
    for body, status in [({"course": PAID, "price_cents": 1}, 400), ({"course": PAID, "total_cents": -5}, 400),
                         ({"course": "no-such-course"}, 404), ({"course": "python-for-beginners"}, 400),
                         ({"course": PAID, "country": "XXL"}, 400), ({"course": PAID, "coupon": "NOPE"}, 400),
                         ({"course": PAID, "plan": "monthly"}, 400), ({"course": 5}, 400), ({}, 400)]:
        r = buyer.post(api + "checkout", json=body)
        assert r.status_code == status, (body, r.status_code, r.text)
        assert r.json()["message"]
    assert buyer.post(api + "checkout", data="{not json").status_code == 400
    assert requests.post(api + "checkout", json={"course": PAID}).status_code in (401, 403)

    quote = buyer.post(api + "quote", json={"course": PAID, "country": "DE"}).json()
    assert (quote["total_cents"], quote["tax_cents"], quote["tax_inclusive"]) == (4900, 782, True)
    r = buyer.post(api + "checkout", json={"course": PAID, "country": "DE"})
    assert r.status_code == 201, r.text
    order, url = r.json()["order"], r.json()["checkout_url"]
    assert order["status"] == "pending" and order["total_cents"] == 4900

    # the hosted page, posted like a browser; Stripe then sends the buyer to the success page
    # (the test server's own API and controls answer only to the demo's key, kept in the data folder)
    stripe_key = (p.data_dir / "stripe-test-secret-key").read_text().strip()
    stripe_auth = {"Authorization": f"Bearer {stripe_key}"}
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "49.00" in page.text
    declined = requests.post(url, data={"email": "s@example.org", "card_number": "4000 0000 0000 0002",
                                        "expiry": "12 / 34", "cvc": "123", "name": "S", "country": "DE"},
                             allow_redirects=False, timeout=10)
    assert declined.status_code == 402
    paid = requests.post(url, data={"email": "s@example.org", "card_number": "4242 4242 4242 4242",
                                    "expiry": "12 / 34", "cvc": "123", "name": "S", "country": "DE"},
                         allow_redirects=False, timeout=10)
    assert paid.status_code == 303 and f"checkout/success?order={order['id']}" in paid.headers["Location"]
    deadline = time.monotonic() + 30  # the webhook (not only the success page) reaches the LMS
    while time.monotonic() < deadline:
        deliveries = requests.get(stripe_base(url) + "/_test/webhooks/deliveries?type=checkout.session.completed",
                                  headers=stripe_auth, timeout=10).json()["deliveries"]
        if any(d["ok"] and d["url"].endswith("/services/lms/api/v1/payments/webhook") for d in deliveries):
            break
        time.sleep(0.3)
    else:
        raise AssertionError(f"no successful webhook delivery: {deliveries}")
    done = wait_order(buyer, p, order["id"], "paid")
    assert buyer.get(f"{p.lms}api/v1/courses/{PAID}/lessons/{lesson}/notebook").status_code == 200
    enrolled = buyer.get(f"{p.lms}api/v1/me/enrollments").json()["enrollments"]
    assert [e["source"] for e in enrolled if e["course"]["slug"] == PAID] == ["purchase"]
    assert buyer.post(api + "checkout", json={"course": PAID}).status_code == 409  # already owned

    # the invoice PDF, for the buyer only
    [inv] = done["invoices"]
    pdf = buyer.get(f"{api}invoices/{inv['id']}/pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    text = "".join(pg.extract_text() for pg in PdfReader(io.BytesIO(pdf.content)).pages)
    assert inv["number"] in text and "shopper" in text and "49.00 USD" in text and "7.82 USD" in text
    assert other.get(f"{api}invoices/{inv['id']}/pdf").status_code == 404
    assert other.get(f"{api}orders/{order['id']}").status_code == 404
    assert other.post(f"{api}orders/{order['id']}/refund-request", json={}).status_code == 404

    # the webhook: unsigned, badly signed, oversized, replayed
    hook = api + "webhook"
    assert requests.post(hook, data=b"{}").status_code == 400
    assert requests.post(hook, data=b'{"id": "evt_x"}', headers={"Stripe-Signature": "t=1,v1=abc"}).status_code == 400
    big = requests.post(hook, data=b"x" * (2 * 1024 * 1024), headers={"Stripe-Signature": "t=1,v1=abc"})
    assert big.status_code in (400, 413)
    secret = (p.data_dir / "stripe-test-webhook-secret").read_text().strip()
    import stripe

    client = stripe.StripeClient(stripe_key, base_addresses={"api": stripe_base(url)})
    events = client.v1.events.list({"type": "checkout.session.completed", "limit": 5}).data
    event = next(e for e in events if e.data.object.id in url)
    payload = json.dumps(event.to_dict())
    ts = int(time.time())
    from stripe_test_server.webhooks import sign

    for _ in range(2):  # replays change nothing
        r = requests.post(hook, data=payload, headers={"Stripe-Signature": sign(payload, secret, ts),
                                                       "Content-Type": "application/json"})
        assert r.status_code == 200 and r.json()["outcome"] == "duplicate", r.text
    stale = requests.post(hook, data=payload, headers={"Stripe-Signature": sign(payload, secret, ts - 3600)})
    assert stale.status_code == 400

    # refund: the student asks, the instructor approves, Stripe refunds, access goes
    r = buyer.post(f"{api}orders/{order['id']}/refund-request", json={"reason": "not for me"})
    assert r.status_code == 201, r.text
    assert buyer.post(f"{api}orders/{order['id']}/refund-request", json={}).status_code == 409
    teacher = p.as_user(p.token("instructor"))
    pending = teacher.get(api + "refund-requests").json()["refund_requests"]
    request_id = next(x["id"] for x in pending if x["order"] == order["id"])
    assert buyer.post(f"{api}refund-requests/{request_id}/decision", json={"approve": True}).status_code == 403
    assert teacher.post(f"{api}refund-requests/{request_id}/decision", json={"approve": "yes"}).status_code == 400
    r = teacher.post(f"{api}refund-requests/{request_id}/decision", json={"approve": True})
    assert r.status_code == 200 and r.json()["status"] == "refunded", r.text
    assert buyer.get(f"{p.lms}api/v1/courses/{PAID}/lessons/{lesson}/notebook").status_code == 403
    refunded = wait_order(buyer, p, order["id"], "refunded")
    assert len(refunded["invoices"]) == 2  # invoice + credit note
    earnings = teacher.get(api + "earnings").json()
    kinds = {e["kind"] for e in earnings["entries"]}
    assert {"sale", "platform_fee", "refund", "reversal"} <= kinds
    assert buyer.get(api + "earnings").status_code == 403

    # pages render (no 500s; the platform fixture checks its log at the end)
    for path in ("purchases", "earnings", "refunds", f"checkout?course={PAID}&country=GB",
                 f"checkout?course={PAID}&country=US&coupon=NOPE", "checkout?plan=yearly&country=AU"):
        r = teacher.get(p.lms + path)
        assert r.status_code == 200, (path, r.status_code)
        if path == "earnings":  # entries in words, with the course's title (not kinds and order ids)
            history = r.text.split('id="history"', 1)[1]
            assert "Platform fee returned" in history and "Sale" in history and "platform_fee" not in history
    assert teacher.get(p.lms + "checkout?course=nope").status_code == 404
    assert teacher.get(p.lms + "checkout?plan=weekly").status_code == 400


def test_admin_bundles_coupons_and_shares(platform):
    p = platform
    admin = p.as_user(p.token("admin"))
    student = p.as_user(p.token("window-shopper"))
    api = f"{p.lms}api/v1/payments/"
    body = {"slug": "pandas-and-algorithms", "title": "Data + Algorithms", "price_cents": 9900,
            "courses": [PAID, "algorithms-cpp-java"]}
    assert student.post(api + "bundles", json=body).status_code == 403
    for bad in ({**body, "price_cents": -1}, {**body, "courses": [PAID]}, {**body, "courses": [PAID, "nope"]},
                {**body, "slug": "Bad Slug"}, {**body, "extra": 1}):
        assert admin.post(api + "bundles", json=bad).status_code in (400, 404), bad
    r = admin.post(api + "bundles", json=body)
    assert r.status_code in (201, 409), r.text
    quote = student.post(api + "quote", json={"bundle": "pandas-and-algorithms", "country": "NL"}).json()
    assert quote["total_cents"] == 9900 and len(quote["lines"]) == 2 and quote["tax_label"] == "VAT"

    assert student.post(api + "coupons", json={"code": "MINE", "percent_off": 90}).status_code == 403
    for bad in ({"code": "X", "percent_off": 10}, {"code": "NEG", "amount_off_cents": -100},
                {"code": "PCT", "percent_off": 150}, {"code": "T", "percent_off": "10"},
                {"code": "OLD", "percent_off": 10, "expires_at": "yesterday"}):
        assert admin.post(api + "coupons", json=bad).status_code == 400, bad
    r = admin.post(api + "coupons", json={"code": "E2E-TEN", "percent_off": 10, "course": PAID, "max_uses": 5})
    assert r.status_code in (201, 409), r.text
    quote = student.post(api + "quote", json={"course": PAID, "coupon": "e2e-ten"}).json()
    assert quote["discount_cents"] == 490 and quote["total_cents"] == 4410
    expired = admin.post(api + "coupons", json={"code": "E2E-OLD", "percent_off": 10,
                                                "expires_at": "2020-01-01T00:00:00+00:00"})
    assert expired.status_code == 400 and "past" in expired.json()["message"]  # never made already expired
    r = student.post(api + "quote", json={"course": PAID, "coupon": "E2E-OLD"})
    # refused like an unknown code: the anonymous quote does not tell which codes exist
    assert r.status_code == 400 and r.json()["message"] == "unknown coupon, or one that cannot be used for this purchase"

    assert admin.put(api + "instructors/999999/share", json={"share_percent": 80}).status_code == 404
    assert admin.put(api + "instructors/1/share", json={"share_percent": 180}).status_code == 400
    assert student.put(api + "instructors/1/share", json={"share_percent": 99}).status_code == 403
