"""The Judge0-compatible API mounted in the platform, with JupyterHub tokens."""
import requests


def test_judge0_with_hub_token(platform):
    base = platform.lms + "api/judge0"
    token = platform.token("coder")
    headers = {"Authorization": f"token {token}"}
    assert requests.get(base + "/languages").status_code == 401
    langs = requests.get(base + "/languages", headers=headers).json()
    assert {71, 63, 62, 52, 50} <= {lang["id"] for lang in langs}
    r = requests.post(base + "/submissions?wait=true", headers=headers,
                      json={"language_id": 71, "source_code": "print(input()[::-1])", "stdin": "abc",
                            "expected_output": "cba"})
    assert r.status_code == 201, r.text
    assert r.json()["status"]["description"] == "Accepted" and r.json()["stdout"] == "cba\n"
    # written once, finished: its owner reads it back by token (from the database)
    again = requests.get(f"{base}/submissions/{r.json()['token']}", headers=headers)
    assert again.status_code == 200 and again.json()["stdout"] == "cba\n", again.text
    # another user cannot read it
    other = {"Authorization": f"token {platform.token('snoop')}"}
    assert requests.get(f"{base}/submissions/{r.json()['token']}", headers=other).status_code == 404
    # callbacks are refused inside the platform
    bad = requests.post(base + "/submissions", headers=headers,
                        json={"language_id": 71, "source_code": "print(1)", "callback_url": "http://10.1.2.3/x"})
    assert bad.status_code == 422
