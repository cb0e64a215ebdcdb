"""Code challenges in real Chromium: the CodeMirror bundle on its own, then the whole page
(run streamed over the WebSocket, submit graded in the sandbox, drafts, history)."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
BUNDLE = REPO / "lms_extension" / "static" / "editor.bundle.js"
FREE = "python-for-beginners"
CHALLENGE = f"courses/{FREE}/lessons/03-lists-and-loops/challenges/sum-two"

SOLUTION = "a, b = input().split()\nprint(int(a) + int(b))\n"
# passes both public tests; `int` overflows on the hidden 18-digit one
WRONG_CPP = """#include <iostream>

int main() {
    int a = 0, b = 0;
    std::cin >> a >> b;
    std::cout << a + b << std::endl;
    return 0;
}
"""


@pytest.fixture(scope="module")
def editor_bundle() -> Path:
    """The built editor; the build is a no-op when the bundle is newer than frontend/."""
    if not (shutil.which("node") and shutil.which("npm")) and os.geteuid() != 0 and not os.environ.get("CI"):
        pytest.skip("no node/npm to build editor.bundle.js (apt-get install nodejs npm)")
    subprocess.run([str(REPO / "scripts" / "build-frontend.sh")], check=True, timeout=600)
    assert BUNDLE.stat().st_size > 100_000
    return BUNDLE


# Is the first token containing `text` coloured differently from plain text on its line?
HIGHLIGHTED = """text => {
  const content = document.querySelector('#ed .cm-content');
  const walker = document.createTreeWalker(content, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode()) && !node.nodeValue.includes(text)) {}
  if (!node) return null;
  const line = node.parentElement.closest('.cm-line');
  return getComputedStyle(node.parentElement).color !== getComputedStyle(line).color;
}"""


def test_editor_bundle_in_chromium(browser, editor_bundle, tmp_path):
    """LMSEditor on a bare file:// page: no server, no network, real highlighting."""
    harness = tmp_path / "harness.html"
    harness.write_text('<!doctype html><meta charset="utf-8"><title>editor</title>'
                       '<div id="ed" style="height: 300px"></div>'
                       f'<script src="{editor_bundle.as_uri()}"></script>')
    page = browser.new_page(viewport={"width": 900, "height": 500})
    page.set_default_timeout(10_000)
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(harness.as_uri())

    assert page.evaluate("typeof LMSEditor.create") == "function"
    assert sorted(page.evaluate("LMSEditor.languages")) == ["c", "cpp", "java", "javascript", "python"]
    page.evaluate("""() => {
      window.changes = [];
      window.ed = LMSEditor.create(document.getElementById('ed'),
        {doc: '# note\\nx = 1\\n', language: 'python', onChange: t => changes.push(t)});
    }""")
    expect(page.locator("#ed .cm-editor")).to_be_visible()
    expect(page.locator("#ed .cm-content")).to_have_attribute("contenteditable", "true")
    assert page.evaluate("ed.getValue()") == "# note\nx = 1\n"
    assert page.evaluate("ed.getLanguage()") == "python"

    # typing reaches getValue and onChange
    page.click("#ed .cm-content")
    page.keyboard.press("Control+End")
    page.keyboard.type("y = 2")
    assert page.evaluate("ed.getValue()") == "# note\nx = 1\ny = 2"
    assert page.evaluate("changes.at(-1)") == "# note\nx = 1\ny = 2"

    # Python: `#` starts a comment, `//` is floor division
    page.wait_for_function(f"({HIGHLIGHTED})('# note') === true")
    edits = page.evaluate("changes.length")
    page.evaluate("ed.setValue('// note\\nint x = 1;\\n')")
    assert page.evaluate("ed.getValue()") == "// note\nint x = 1;\n"
    assert page.evaluate("changes.length") == edits, "setValue is not an edit: no onChange"
    page.wait_for_function(f"({HIGHLIGHTED})('note') === false")

    # C++ and the C-like languages: `//` starts a comment
    page.evaluate("ed.setLanguage('cpp')")
    assert page.evaluate("ed.getLanguage()") == "cpp"
    page.wait_for_function(f"({HIGHLIGHTED})('// note') === true")
    assert page.evaluate("ed.getValue()") == "// note\nint x = 1;\n", "switching language keeps the text"
    for lang in ("c", "java", "javascript"):
        page.evaluate(f"ed.setLanguage('{lang}')")
        page.wait_for_function(f"({HIGHLIGHTED})('// note') === true")
    page.evaluate("ed.setLanguage('python')")
    page.wait_for_function(f"({HIGHLIGHTED})('note') === false")

    # an unknown language is refused and changes nothing
    message = page.evaluate("() => { try { ed.setLanguage('cobol'); } catch (e) { return e.message; } }")
    assert "unknown language" in message
    assert page.evaluate("ed.getLanguage()") == "python"

    assert not errors, errors
    assert all(u.startswith("file:") for u in requests), f"the bundle fetched something: {requests}"
    page.close()


def editor_text(page) -> str:
    return page.evaluate("LMSChallenge.editor.getValue()")


def test_challenge_in_chromium(browser, editor_bundle, sqlite_platform):
    p = sqlite_platform
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(60_000)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # the demo student logs in through the hub and enrolls in the free course
    page.goto(f"{p.url}/hub/login")
    page.fill("#username_input", "student")
    page.fill("#password_input", p.demo_password)
    page.click("#login_submit")
    expect(page.locator(".who")).to_have_text("student")
    page.goto(f"{p.lms}courses/{FREE}")
    if page.locator("#enroll").count():
        page.click("#enroll")
    expect(page.locator(".buybox .ok")).to_contain_text("enrolled")

    page.goto(f"{p.lms}{CHALLENGE}")
    expect(page.locator(".challenge h1")).to_be_visible()
    expect(page.locator("#editor .cm-editor")).to_be_visible()  # CodeMirror, not the fallback
    expect(page.locator("#language")).to_have_value("71")
    assert page.input_value("#stdin") == "2 3\n"  # the first public test's input
    assert editor_text(page).startswith("a, b = input().split()")  # the starter code

    # Run streams: the first line shows while the program still sleeps; stderr is red
    page.click("#editor .cm-content")
    page.keyboard.press("Control+a")
    page.keyboard.type('import sys, time\na, b = input().split()\nprint("tick", flush=True)\n'
                       'print("oops", file=sys.stderr, flush=True)\ntime.sleep(2)\nprint(int(a) + int(b))\n')
    page.click("#run")
    expect(page.locator("#output .stdout").first).to_contain_text("tick")
    expect(page.locator("#run-status")).to_have_attribute("data-state", "running", timeout=1000)
    expect(page.locator("#output .stderr")).to_contain_text("oops")
    assert page.eval_on_selector("#output .stderr", "e => getComputedStyle(e).color") != \
        page.eval_on_selector("#output .stdout", "e => getComputedStyle(e).color")
    expect(page.locator("#run-status")).to_have_text("Accepted")
    expect(page.locator("#output")).to_contain_text("5")
    expect(page.locator("#run-stats")).to_contain_text(" s")
    expect(page.locator("#run")).to_be_enabled()

    # a clean solution, typed (so it is saved as the Python draft), runs and passes every test
    page.click("#editor .cm-content")
    page.keyboard.press("Control+a")
    page.keyboard.type(SOLUTION)
    assert editor_text(page) == SOLUTION
    page.click("#run")
    expect(page.locator("#run-status")).to_have_text("Accepted")
    expect(page.locator("#output")).to_have_text(re.compile(r"^\s*5\s*$"))
    page.click("#submit")
    summary = page.locator("#results .summary")
    expect(summary).to_have_attribute("data-status", "passed", timeout=120_000)
    tests = page.locator("#results li.test")
    expect(tests).to_have_count(4)
    expect(page.locator('#results li.test[data-passed="false"]')).to_have_count(0)
    expect(page.locator('#results li.test[data-hidden="true"]').first).to_contain_text("Hidden test")
    expect(page.locator("#history li").first).to_have_attribute("data-status", "passed")

    # C++: the starter code, then a program that overflows on a hidden test
    page.select_option("#language", page.get_attribute('#language option[data-mode="cpp"]', "value"))
    assert "#include <iostream>" in editor_text(page)
    page.evaluate("src => LMSChallenge.editor.setValue(src)", WRONG_CPP)
    page.click("#submit")
    expect(summary).to_have_attribute("data-status", "failed", timeout=120_000)
    expect(page.locator('#results li.test[data-hidden="false"][data-passed="true"]')).to_have_count(2)
    failing = page.locator('#results li.test[data-hidden="true"][data-passed="false"]')
    expect(failing).to_have_count(1)
    expect(failing).to_contain_text(re.compile(r"Hidden test \d+: failed"))
    expect(page.locator("#history li").first).to_have_attribute("data-status", "failed")
    page.screenshot(path=str(ARTIFACTS / "challenge.png"), full_page=True)

    # drafts: Python's code is kept in memory and survives a reload
    page.select_option("#language", "71")
    assert editor_text(page) == SOLUTION
    page.reload()
    expect(page.locator("#editor .cm-editor")).to_be_visible()
    expect(page.locator("#language")).to_have_value("71")
    assert editor_text(page) == SOLUTION
    # the history is the server's: newest first
    expect(page.locator("#history li").nth(0)).to_have_attribute("data-status", "failed")
    expect(page.locator("#history li").nth(1)).to_have_attribute("data-status", "passed")
    expect(page.locator("#history li").nth(1)).to_contain_text("4/4")

    # narrow screens stack the statement above the editor
    page.set_viewport_size({"width": 420, "height": 900})
    statement = page.locator(".statement").bounding_box()
    editor = page.locator("#editor").bounding_box()
    assert editor["y"] > statement["y"] + statement["height"] - 1
    assert editor["width"] > 300
    page.screenshot(path=str(ARTIFACTS / "challenge-narrow.png"), full_page=True)

    assert not errors, errors
    page.close()
