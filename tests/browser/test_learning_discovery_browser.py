"""Quizzes, My learning and the catalog filters in real Chromium at desktop and phone widths:
radio buttons for a single-answer question and the answer shown after the last attempt,
"Continue" by lesson title, prices typed in currency units, and no horizontal scroll at 390 px."""
from pathlib import Path

from playwright.sync_api import expect

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FREE, LESSON, QUIZ = "python-for-beginners", "01-hello-python", "q-floor-division"


def no_horizontal_scroll(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


def login(browser, p, width: int):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(60_000)
    page.goto(f"{p.url}/hub/login")
    page.fill("#username_input", "student")
    page.fill("#password_input", p.demo_password)
    page.click("#login_submit")
    expect(page.locator(".who")).to_have_text("student")
    return page


def test_quiz_my_learning_and_catalog_in_chromium(browser, sqlite_platform):
    p = sqlite_platform
    ARTIFACTS.mkdir(exist_ok=True)
    api = p.as_user(p.token("student"))
    assert api.post(p.lms + f"api/v1/courses/{FREE}/enroll").status_code in (200, 201)
    for width in (1280, 390):
        page = login(browser, p, width)
        # the lesson page: one right option, so radio buttons
        page.goto(f"{p.lms}courses/{FREE}/lessons/{LESSON}#quizzes")
        quiz = page.locator(f"#quiz-{QUIZ}")
        if width == 1280:
            expect(quiz.locator('input[type="radio"]')).to_have_count(4)
            expect(quiz.locator('input[type="checkbox"]')).to_have_count(0)
            expect(quiz.locator(".quiz-reveal")).to_have_count(0)
            # a tampered form ticking two options: refused with the reason, the attempt not counted
            quiz.evaluate("f => f.querySelectorAll('input[name=answer]').forEach(i => { i.type = 'checkbox'; i.checked = true; })")
            quiz.locator("button").click()
            expect(page.locator("#message")).to_contain_text("pick one option only")
            quiz = page.locator(f"#quiz-{QUIZ}")
            expect(quiz).to_contain_text("2 of 2 attempts left")
            quiz.locator('input[type="radio"]').nth(0).check()
            quiz.locator("button").click()
            quiz = page.locator(f"#quiz-{QUIZ}")
            expect(quiz).to_contain_text("1 of 2 attempts left")
            expect(quiz.locator(".quiz-reveal")).to_have_count(0)  # not before the last attempt
            quiz.locator('input[type="radio"]').nth(2).check()
            quiz.locator("button").click()
            quiz = page.locator(f"#quiz-{QUIZ}")
        reveal = quiz.locator(".quiz-reveal")
        expect(reveal).to_contain_text("Your answer: c) 2")
        expect(reveal).to_contain_text("Right answer: b) 3")
        quiz.scroll_into_view_if_needed()
        quiz.screenshot(path=str(ARTIFACTS / f"quiz-reveal-{width}.png"))
        no_horizontal_scroll(page, width)

        # My learning names the lesson to continue by its title
        page.goto(f"{p.lms}my-learning")
        row = page.locator(f'.learning-row[data-slug="{FREE}"]')
        expect(row.locator("a.btn")).to_contain_text("Hello, Python")
        assert LESSON not in row.inner_text()
        bar, card = row.locator(".progress").bounding_box(), row.bounding_box()
        assert bar["x"] >= card["x"] and bar["x"] + bar["width"] <= card["x"] + card["width"]  # the bar fits its card
        page.screenshot(path=str(ARTIFACTS / f"my-learning-{width}.png"), full_page=True)
        no_horizontal_scroll(page, width)

        # the catalog: a price in currency units, a bad one explained
        page.goto(p.lms)
        languages = page.locator('select[name="language"] option').all_inner_texts()
        assert languages[0] == "Any language" and "English" in languages and "DE" not in languages
        page.fill('input[name="max_price"]', "0")
        page.click('button:has-text("Search")')
        expect(page.locator(f'a.card[data-slug="{FREE}"]')).to_be_visible()
        expect(page.locator("a.card .price").first).to_have_text("Free")
        page.goto(f"{p.lms}?min_price=abc")
        expect(page.locator("#filter-error")).to_contain_text("Minimum price must be an amount like 19.99")
        page.screenshot(path=str(ARTIFACTS / f"catalog-bad-price-{width}.png"), full_page=True)
        no_horizontal_scroll(page, width)
        page.close()
