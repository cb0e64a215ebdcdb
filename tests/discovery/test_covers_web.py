"""Covers, durations and instructor pages served by the real Tornado app to visitors: the
generated SVG, an uploaded cover's renditions with their cache headers, the card markup
(width/height, srcset, lazy below the first row) and the instructor's page."""
import io
import re

import requests
from PIL import Image

from lms_extension.db import session_factory
from lms_extension.services import covers, users
from tests.factories import make_course

from .test_web import served  # noqa: F401  (the fixture)


def png(size=(1200, 700)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (20, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


def test_covers_cards_and_instructor_page(served, tmp_path):  # noqa: F811
    base, engine, _statements, app = served
    with session_factory(engine)() as session:
        courses = [make_course(session, tmp_path, f"c{i}", instructor="teacher") for i in range(6)]
        teacher = users.by_name(session, "teacher")
        users.update_profile(session, teacher, display_name="Grace <b>Hopper</b>", headline="Compilers",
                             bio="**Bold** <script>alert(1)</script> [x](javascript:alert(1))")
        cover = covers.upload_cover(session, app.settings["storage"], teacher, "c5", png())
        ids = {c.slug: c.id for c in courses}
        session.commit()
        version = cover.version

    svg = requests.get(base + "covers/c1.svg", timeout=30)
    assert svg.status_code == 200 and svg.headers["Content-Type"].startswith("image/svg+xml")
    assert "Course c1" in svg.text and "max-age=86400" in svg.headers["Cache-Control"]
    again = requests.get(base + "covers/c1.svg", headers={"If-None-Match": svg.headers["Etag"]}, timeout=30)
    assert again.status_code == 304
    for bad in ("covers/nope.svg", "covers/..%2f..%2fetc.svg", "covers/C1.svg"):
        assert requests.get(base + bad, timeout=30).status_code == 404, bad

    webp = requests.get(base + f"covers/{ids['c5']}/{version}-640.webp", timeout=30)
    assert webp.status_code == 200 and webp.headers["Content-Type"] == "image/webp"
    assert "immutable" in webp.headers["Cache-Control"] and "max-age=31536000" in webp.headers["Cache-Control"]
    assert Image.open(io.BytesIO(webp.content)).size == (640, 360)
    for bad in (f"covers/{ids['c5']}/{version}-641.webp", f"covers/{ids['c5']}/000000000000-640.webp",
                f"covers/{ids['c1']}/{version}-640.webp"):
        assert requests.get(base + bad, timeout=30).status_code == 404, bad

    page = requests.get(base, timeout=30).text
    imgs = re.findall(r'<img class="cover"[^>]*>', page)
    assert len(imgs) == 6 and all('width="640" height="360"' in i for i in imgs)
    assert sum('loading="eager"' in i for i in imgs) == 4 and sum('loading="lazy"' in i for i in imgs) == 2
    uploaded = [i for i in imgs if version in i]
    assert len(uploaded) == 1 and "320w" in uploaded[0] and "960w" in uploaded[0] and "sizes=" in uploaded[0]
    assert re.search(r'class="duration">· \d+ min', page)

    course = requests.get(base + "courses/c5", timeout=30).text
    assert 'id="instructor-link" href="/services/lms/instructors/teacher"' in course
    assert 'id="course-duration"' in course and version in course

    person = requests.get(base + "instructors/teacher", timeout=30)
    assert person.status_code == 200
    assert "Grace &lt;b&gt;Hopper&lt;/b&gt;" in person.text and "<strong>Bold</strong>" in person.text
    assert "<script>alert(1)</script>" not in person.text and 'href="javascript:' not in person.text
    assert person.text.count('class="card"') == 6
    for name in ("nobody", "%00", "a" * 300):
        assert requests.get(base + f"instructors/{name}", timeout=30).status_code == 404
