"""Buying a paid course in real Chromium: catalog, course page, checkout with the price
breakdown, Stripe's hosted page (the bundled test server), success, and a locked lesson opens
in JupyterLab; then a refund (asked for on Purchases, approved by an admin on Refunds, refunded
through Stripe) locks the lesson in the student's home and JupyterLab says so."""
import json
from pathlib import Path

import requests

from playwright.sync_api import expect

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PAID = "data-analysis-with-pandas"
LOCKED = "02-selecting-and-filtering"


def test_buy_a_course_in_chromium(browser, sqlite_platform):
    p = sqlite_platform
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(60_000)

    page.goto(f"{p.url}/hub/login")
    page.fill("#username_input", "student2")
    page.fill("#password_input", p.demo_password)
    page.click("#login_submit")
    expect(page.locator(".who")).to_have_text("student2")

    # catalog -> course page -> Buy
    page.goto(p.lms)
    page.click(f'a.card[data-slug="{PAID}"]')
    expect(page.locator(f'li.lesson[data-lesson="{LOCKED}"] .lock')).to_be_visible()
    page.click("#buy")

    # the checkout page: country changes the tax line, a bad coupon is explained, prices tax-inclusive in Germany
    expect(page.locator("#total")).to_contain_text("49.00")
    page.select_option("#country", "DE")
    expect(page.locator("#row-tax")).to_contain_text("includes VAT 19%")
    expect(page.locator("#tax")).to_contain_text("7.82")
    page.fill("#coupon", "NOT-A-COUPON")
    page.click("#apply")
    expect(page.locator("#coupon-error")).to_contain_text("unknown coupon")
    expect(page.locator("#total")).to_contain_text("49.00")
    page.screenshot(path=str(ARTIFACTS / "checkout.png"), full_page=True)
    page.click("#pay")

    # Stripe's hosted page (the test server in demo mode): a declined card, then one that pays
    expect(page.locator("#payment-form")).to_be_visible()
    expect(page.locator("#total")).to_contain_text("49.00")
    page.fill("#email", "student2@example.org")
    page.fill("#card_number", "4000 0000 0000 0002")
    page.fill("#expiry", "12 / 34")
    page.fill("#cvc", "123")
    page.fill("#name", "Student Two")
    page.click("#submit")
    expect(page.locator("#error")).to_contain_text("declined")
    page.fill("#card_number", "4242 4242 4242 4242")
    page.fill("#expiry", "12 / 34")
    page.fill("#cvc", "123")
    page.click("#submit")

    # back on the LMS: paid (the webhook or the success page's own check with Stripe)
    expect(page.locator("#status")).to_have_attribute("data-status", "paid", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "purchase-success.png"), full_page=True)

    # Purchases lists the order with its invoice
    page.goto(f"{p.lms}purchases")
    expect(page.locator("#purchases .invoice-link")).to_have_count(1)

    # the locked lesson opens in the student's own JupyterLab
    page.goto(f"{p.lms}courses/{PAID}")
    expect(page.locator(".buybox .ok")).to_contain_text("enrolled")
    page.click(f'li.lesson[data-lesson="{LOCKED}"] a.btn-small')
    expect(page.locator(".jp-NotebookPanel")).to_be_visible(timeout=120_000)
    expect(page.locator(".jp-MainAreaWidget .jp-Cell").first).to_be_visible(timeout=60_000)
    assert f"/tree/courses/{PAID}/" in page.url
    page.screenshot(path=str(ARTIFACTS / "purchased-lesson-in-jupyterlab.png"))
    lab_url = page.url

    # the student asks for a refund on Purchases ...
    page.goto(f"{p.lms}purchases")
    page.fill("#purchases input[name=reason]", "not what I needed")
    page.click("#purchases button:has-text('Ask for a refund')")
    expect(page.locator("#purchases")).to_contain_text("requested")

    # ... an admin approves it on Refunds: Stripe refunds the charge, its webhook revokes the course
    admin = browser.new_page(viewport={"width": 1280, "height": 900})
    admin.goto(f"{p.url}/hub/login")
    admin.fill("#username_input", "admin")
    admin.fill("#password_input", p.demo_password)
    admin.click("#login_submit")
    expect(admin.locator(".who")).to_be_visible()
    admin.goto(f"{p.lms}refunds")
    admin.click("#refund-requests button[value=approve]")
    expect(admin.locator("#message")).to_be_visible()
    admin.close()
    page.goto(f"{p.lms}purchases")
    expect(page.locator(".refund-locked")).to_be_visible(timeout=30_000)

    # back in JupyterLab: the Course sidebar says the lesson is gone, and the notebook in the
    # home is a read-only notice instead of the paid content
    page.goto(lab_url)
    notice = page.locator("#lms-course-panel .jp-LMS-notice")
    expect(notice).to_contain_text("can no longer open this lesson", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "refunded-lesson-in-jupyterlab.png"))
    token = p.token("student2")
    home = requests.get(f"{p.url}/user/student2/api/contents/courses/{PAID}/{LOCKED}.ipynb",
                        headers={"Authorization": f"token {token}"}, timeout=30).json()
    text = json.dumps(home["content"])
    assert "refunded" in text.lower(), text[:500]
    p.stop_server("student2")
