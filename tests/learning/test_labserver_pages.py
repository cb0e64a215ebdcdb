"""The lab server's HTML pages (submit confirmation, a newer lesson version) carry the platform's
header, footer and stylesheet, and escape what comes from file names and arguments."""
from __future__ import annotations

import pytest

from lms_extension.labserver import pages


@pytest.fixture(autouse=True)
def hub_env(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_BASE_URL", "/base/")
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")


def test_submit_page_has_the_platform_layout():
    html = pages.render("submit.html", base_url="/base/user/ada/", rel="courses/py/01-intro.ipynb",
                        xsrf='<input type="hidden" name="_xsrf" value="t0k">', course="py", lesson="01-intro",
                        lab_url="/base/user/ada/lab/tree/courses/py/01-intro.ipynb",
                        lesson_url="/base/services/lms/courses/py/lessons/01-intro")
    assert '<link rel="stylesheet" href="/base/services/lms/static/lms.css">' in html
    assert '<header class="topbar">' in html and '<footer class="footer wrap">' in html
    assert '<a href="/base/services/lms/">Catalog</a>' in html and '<a href="/base/user/ada/lab">My JupyterLab</a>' in html
    assert '<input type="hidden" name="_xsrf" value="t0k">' in html  # the form still posts with xsrf
    assert 'id="confirm-submit"' in html and 'href="/base/services/lms/courses/py/lessons/01-intro"' in html


def test_hostile_names_are_escaped():
    html = pages.render("newer_version.html", base_url="/base/user/ada/", mine='a"><script>x()</script>.ipynb',
                        newer="b.v2.ipynb", mine_url='/lab/"onmouseover="x()', newer_url="/lab/b", version=2)
    assert "<script>x()" not in html and "&lt;script&gt;x()" in html
    assert '"onmouseover="' not in html
