"""Profile, billing details at checkout, course covers and instructor pages in real Chromium,
at 1280 and 390 px: refused input comes back with its reason and what was typed, nothing
scrolls sideways on a phone."""
import io
from pathlib import Path

import requests
from PIL import Image
from playwright.sync_api import expect

from .test_mobile import OVERFLOW_JS

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "profile-billing"
PAID = "data-analysis-with-pandas"


def fits(page, name: str, width: int) -> None:
    page.wait_for_load_state("load")
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    found = page.evaluate(OVERFLOW_JS)
    assert found["scroll"] <= found["width"] and not found["wide"], f"{name} scrolls sideways at {width} px: {found}"


def login(browser, p, name: str, password: str, width: int):
    context = browser.new_context(viewport={"width": width, "height": 900 if width > 600 else 844},
                                  is_mobile=width < 600, has_touch=width < 600)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{p.url}/hub/login?next=/services/lms/")
    page.fill("#username_input", name)
    page.fill("#password_input", password)
    page.click("#login_submit")
    expect(page.locator("#profile-link")).to_be_visible()
    return context, page


def test_student_profile_and_billing(browser, sqlite_platform):
    p = sqlite_platform
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert p.signup("billie", "billie-secret-77", display_name="Billie", session=requests.Session()).ok
    for width in (1280, 390):
        context, page = login(browser, p, "billie", "billie-secret-77", width)
        page.click("#profile-link")
        expect(page.locator("#display-name")).to_have_value("Billie" if width == 1280 else "Bea Buyer")
        page.fill("#display-name", "Bea\u200bBuyer")  # an invisible character
        page.click("#save-profile")
        expect(page.locator("#profile-error")).to_contain_text("invisible formatting")
        expect(page.locator("#display-name")).to_have_value("Bea\u200bBuyer")
        fits(page, "profile-refused", width)
        page.fill("#display-name", "  Bea   Buyer ")
        page.click("#save-profile")
        expect(page.locator("#message")).to_have_text("Profile saved.")
        expect(page.locator(".who")).to_have_text("Bea Buyer")

        page.goto(f"{p.lms}checkout?course={PAID}&country=DE")
        expect(page.locator("#billing-name")).to_have_value("Bea Buyer")  # the display name by default
        fits(page, "checkout-billing", width)
        page.fill("#billing-name", "Example GmbH")
        page.fill("#billing-street", "Hauptstr. 5")
        page.click("#pay")
        expect(page.locator("#billing-error")).to_contain_text("add the postal code, city")
        expect(page.locator("#billing-street")).to_have_value("Hauptstr. 5")
        page.fill("#billing-postal-code", "10115")
        page.fill("#billing-city", "Berlin")
        page.fill("#billing-vat-id", "FR12345678901")
        page.click("#pay")
        expect(page.locator("#billing-error")).to_contain_text("starts with DE")
        expect(page.locator("#billing-vat-id")).to_have_attribute("aria-invalid", "true")
        for sel, value in (("#billing-name", "Example GmbH"), ("#billing-city", "Berlin"),
                           ("#billing-vat-id", "FR12345678901")):
            expect(page.locator(sel)).to_have_value(value)
        fits(page, "checkout-vat-refused", width)
        page.fill("#billing-vat-id", "DE 123 456 789")
        page.click("#pay")
        expect(page.locator("#payment-form")).to_be_visible()  # on to Stripe's page
        context.close()


def test_instructor_cover_photo_and_public_page(browser, sqlite_platform):
    p = sqlite_platform
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.new("RGB", (1400, 900), (30, 110, 190)).save(buf, "JPEG")
    (ARTIFACTS / "cover.jpg").write_bytes(buf.getvalue())
    (ARTIFACTS / "fake.png").write_text("<svg onload=alert(1)>not an image</svg>")
    for width in (1280, 390):
        context, page = login(browser, p, "instructor", p.demo_password, width)
        page.goto(f"{p.lms}teach")
        row = page.locator(f'tr[data-slug="{PAID}"]')
        row.locator('input[name="cover"]').set_input_files(str(ARTIFACTS / "fake.png"))
        row.locator('button:has-text("Save cover")').click()
        expect(page.locator("#cover-error")).to_contain_text("not a PNG, JPEG or WebP")
        row = page.locator(f'tr[data-slug="{PAID}"]')
        row.locator('input[name="cover"]').set_input_files(str(ARTIFACTS / "cover.jpg"))
        row.locator('button:has-text("Save cover")').click()
        expect(page.locator("#message")).to_have_text("Cover saved.")
        fits(page, "teach-cover", width)

        page.goto(f"{p.lms}profile")
        page.fill("#headline", "Data analyst and Python trainer")
        page.fill("#bio", "I teach **pandas**.\n\n<script>alert(1)</script>")
        page.click("#save-profile")
        expect(page.locator("#message")).to_have_text("Profile saved.")
        page.set_input_files("#photo-file", str(ARTIFACTS / "cover.jpg"))
        page.click("#save-photo")
        expect(page.locator("#photo")).to_be_visible()
        fits(page, "profile-instructor", width)

        page.goto(f"{p.lms}courses/{PAID}")
        cover = page.locator(".buybox img.cover")
        assert ".webp" in cover.get_attribute("src") and "960w" in cover.get_attribute("srcset")
        expect(page.locator(".lesson .duration").first).to_contain_text("min")
        fits(page, "course-cover", width)
        page.click("#instructor-link")
        expect(page.locator("#headline")).to_have_text("Data analyst and Python trainer")
        expect(page.locator("#bio strong")).to_have_text("pandas")
        assert page.locator("#bio script").count() == 0
        assert page.locator("#instructor-courses a.card").count() >= 2
        fits(page, "instructor-page", width)
        page.goto(p.lms)
        first = page.locator("a.card img.cover").first
        assert first.evaluate("img => img.complete && img.naturalWidth > 0")
        fits(page, "catalog-covers", width)
        context.close()
