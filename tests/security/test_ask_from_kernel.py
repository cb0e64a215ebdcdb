"""Ask about this cell, attacked from inside a real student kernel.

The kernel holds the student's server token, so it can call everything JupyterLab's dialog calls
(``/lms/api/ask*`` in the student's server) and the LMS API itself. Suppose the hidden tests and
the solution of a lesson leaked to the student somehow (this test hands them to the kernel): no
field of a question, whichever way in, can carry them into the forum; the student cannot fetch a
question's attachment (the instructor's view), cannot anchor a question to a version or cell the
student version does not have, and cannot pass a hidden line off as an exception name."""
from __future__ import annotations

import json

from lms_extension.services import forum_ask
from tests.conftest import COURSES

from .conftest import kernel_json

FREE, LESSON = "python-for-beginners", "01-hello-python"

ATTACK = r'''
import json, os, urllib.request, urllib.error, urllib.parse
server = os.environ["JUPYTERHUB_SERVICE_URL"].rstrip("/") + "/"
lms = os.environ["LMS_SERVICE_URL"]
token = os.environ["JUPYTERHUB_API_TOKEN"]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
def call(url, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": "token " + token, "Content-Type": "application/json"})
    try:
        with opener.open(req, timeout=60) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
secrets = json.loads(%(secrets)r)
paste = "\n".join(secrets)
spaced = "\n".join("  " + "  ".join(s.split()) for s in secrets)  # other whitespace
arrows = "\n".join("\x1b[0;32m----> 7\x1b[0m " + s for s in secrets)  # as a traceback quotes it
split = "\n".join(s[:len(s) // 2] + "\n" + s[len(s) // 2:] for s in secrets)  # each cut in two
path = "courses/%(course)s/%(lesson)s.ipynb"
out = {}
fields = {"cell_id": "ex1-seconds-tests", "code": paste + "\n" + split, "output": spaced, "traceback": arrows,
          "exception": "AssertionError"}
out["lab_draft"] = call(server + "lms/api/ask/draft", "POST", {"path": path, **fields})
out["lab_ask"] = call(server + "lms/api/ask", "POST", {"path": path, **fields, "title": secrets[0][:200],
                                                       "body": paste + "\n\n" + spaced, "kind": "question"})
direct = {"lesson": "%(lesson)s", "cell_id": "ex1-seconds-tests", "code": arrows, "output": paste,
          "traceback": split, "title": "help", "body": "```\n" + paste + "\n```"}
out["lms_ask"] = call(lms + "api/v1/courses/%(course)s/threads/ask", "POST", direct)
out["lms_plain_thread"] = call(lms + "api/v1/courses/%(course)s/threads", "POST",
                               {"title": "plain", "body": "no attachment here", "lesson": "%(lesson)s"})
thread = json.loads(out["lab_ask"][1]).get("id") if out["lab_ask"][0] == 201 else None
out["attachment"] = call(lms + "api/v1/threads/%%s/attachment" %% thread) if thread else None
out["bad_version"] = call(lms + "api/v1/courses/%(course)s/threads/ask", "POST", {**direct, "version": 999})
out["bad_cell"] = call(lms + "api/v1/courses/%(course)s/threads/ask", "POST", {**direct, "cell_id": "no-such-cell"})
out["bad_exception"] = call(lms + "api/v1/courses/%(course)s/threads/ask", "POST",
                            {**direct, "exception": secrets[0]})
out["outside"] = call(server + "lms/api/ask/draft", "POST", {"path": "../../etc/passwd", **fields})
out["open_question"] = call(server + "lms/ask/open?thread=%%s" %% thread) if thread else None
print(json.dumps(out))
'''


def secrets() -> list[str]:
    """The lesson's hidden-test and solution lines, from the instructor version in the repository."""
    source = json.loads((COURSES / FREE / "lessons" / f"{LESSON}.ipynb").read_text())
    lines = []
    for cell in source["cells"]:
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        for marker in ("HIDDEN TESTS", "SOLUTION"):
            lines += [ln.strip() for ln in forum_ask._between(src, f"BEGIN {marker}", f"END {marker}")
                      if len(forum_ask.normalise(ln)) >= 12]
    return lines


def test_a_kernel_cannot_get_hidden_tests_attached(sandbox_platform, two_students):
    p = sandbox_platform
    token = two_students["maria"]
    maria, teacher = p.as_user(token), p.as_user(p.token("instructor"))
    maria.post(p.lms + f"api/v1/courses/{FREE}/enroll").raise_for_status()
    assert maria.get(f"{p.url}/user/maria/lms/open", params={"course": FREE, "lesson": LESSON},
                     allow_redirects=False).status_code == 302
    lines = secrets()
    assert len(lines) > 10

    out = kernel_json(p, "maria", token, ATTACK % {"secrets": json.dumps(lines), "course": FREE,
                                                     "lesson": LESSON}, timeout=300)

    assert out["lab_draft"][0] == 200, out["lab_draft"]
    assert out["lab_ask"][0] == 201 and out["lms_ask"][0] == 201, (out["lab_ask"], out["lms_ask"])
    assert json.loads(out["lab_ask"][1])["redacted_lines"] >= len(lines)
    assert out["attachment"][0] == 403  # the instructor's view of a question is not the student's
    assert out["open_question"][0] in (403, 404), out["open_question"]  # nor in the student's own server
    for name in ("bad_version", "bad_cell", "bad_exception"):
        status, body = out[name]
        assert status == 400 and json.loads(body)["message"], (name, out[name])
    assert out["outside"][0] == 400, out["outside"]
    normalised = [forum_ask.normalise(s) for s in lines]

    def leaked(text: str) -> list[str]:
        flat = forum_ask.normalise(text)
        return [s for s in normalised if s in flat]

    # nothing the kernel got back, and nothing stored: the teacher reads every thread and attachment
    assert leaked(out["lab_draft"][1]) == []
    threads = teacher.get(p.lms + f"api/v1/courses/{FREE}/threads", params={"limit": 100}).json()["threads"]
    asked = [t["id"] for t in threads if t.get("cell_id") == "ex1-seconds-tests"]
    assert len(asked) == 2, threads
    for tid in asked:
        view = teacher.get(p.lms + f"api/v1/threads/{tid}")
        attachment = teacher.get(p.lms + f"api/v1/threads/{tid}/attachment")
        assert view.status_code == 200 and attachment.status_code == 200
        assert leaked(view.text) == [] and leaked(attachment.text) == [], tid
        assert attachment.json()["failing_tests"] == ["Exercise 1 - Seconds in a week"]
    # the search index has none of it either: a hidden test's own words find no thread
    found = teacher.get(p.lms + f"api/v1/courses/{FREE}/threads", params={"q": "isinstance seconds_in_a_week"}).json()
    assert [t["id"] for t in found["threads"] if t["id"] in asked] == [], found
