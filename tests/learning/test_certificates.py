"""Certificates: issued on completion, the PDF parsed back, revocation, forged ids."""
from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from lms_extension.errors import NotFound
from lms_extension.services import certificates, lessons
from sqlalchemy import select
from lms_extension.models.learning import Certificate

from .conftest import UNGRADED_NOTEBOOK, build_course, enroll

URL = "https://lms.example.org/services/lms/certificates/"


def complete(session, tmp_path, user, **kwargs):
    course = build_course(session, tmp_path, notebook=UNGRADED_NOTEBOOK, **kwargs)
    enroll(session, user, course.slug)
    for ls in course.lessons:
        lessons.deliver(session, user, course.slug, ls.key)
    return course, session.scalars(select(Certificate).where(Certificate.user_id == user.id)).one()


def test_completion_issues_one_certificate_with_frozen_names(session, tmp_path, alice):
    alice.display_name = "Alice Liddell"
    course, cert = complete(session, tmp_path, alice)
    assert re.fullmatch(r"[0-9a-f]{32}", cert.uid)
    assert (cert.student_name, cert.course_title, cert.instructor_name) == ("Alice Liddell", "Course learn", "teacher")
    assert certificates.issue(session, alice, course).id == cert.id  # idempotent
    alice.display_name = "Someone Else"
    assert certificates.get(session, cert.uid).student_name == "Alice Liddell"


def test_pdf_holds_name_course_date_instructor_id_and_qr(session, tmp_path, alice):
    alice.display_name = "Zoë Ångström"  # not Latin-1-safe everywhere: the PDF embeds a Unicode font
    course, cert = complete(session, tmp_path, alice)
    data = certificates.render_pdf(cert, URL + cert.uid)
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    squashed = re.sub(r"\s+", " ", text)
    assert "Certificate of Completion" in squashed
    assert "Zoë Ångström" in squashed
    assert "Course learn" in squashed
    assert "Instructor: teacher" in squashed
    assert cert.issued_at.strftime("%d %B %Y") in squashed
    assert cert.uid in squashed
    assert (URL + cert.uid) in squashed.replace(" ", "") or (URL + cert.uid) in text.replace("\n", "")
    images = reader.pages[0].images
    assert len(images) == 1  # the QR code
    qr = images[0].image
    assert qr.size[0] == qr.size[1] and qr.size[0] >= 100
    # the embedded QR code is exactly the code of the verification URL
    import qrcode

    code = qrcode.QRCode(border=1, box_size=8)
    code.add_data(URL + cert.uid)
    code.make(fit=True)
    expected = code.make_image().get_image().convert("L")
    assert qr.convert("L").size == expected.size
    assert qr.convert("L").tobytes() == expected.tobytes()
    assert reader.metadata.subject == cert.uid


def test_revoke_for_course_then_the_view_says_revoked(session, tmp_path, alice, bob):
    course, cert = complete(session, tmp_path, alice)
    assert certificates.view(cert, URL + cert.uid)["valid"] is True
    assert certificates.revoke_for_course(session, bob.id, course.id, "refund") is None  # bob has none
    revoked = certificates.revoke_for_course(session, alice.id, course.id, "purchase refunded")
    assert revoked.id == cert.id and revoked.revoked_at is not None
    first = revoked.revoked_at
    certificates.revoke_for_course(session, alice.id, course.id, "again")
    view = certificates.view(certificates.get(session, cert.uid), URL + cert.uid)
    assert view["valid"] is False and view["revoked_at"] == first.isoformat()
    assert certificates.get(session, cert.uid).revoke_reason == "purchase refunded"


@pytest.mark.parametrize("forged", ["0" * 32, "A" * 32, "../../etc/passwd", "", "1' OR '1'='1", "f" * 33])
def test_forged_ids_are_not_found(session, tmp_path, alice, forged):
    complete(session, tmp_path, alice)
    with pytest.raises(NotFound):
        certificates.get(session, forged)


def test_linkedin_link_carries_the_certification(session, tmp_path, alice):
    from urllib.parse import parse_qs, urlsplit

    _, cert = complete(session, tmp_path, alice)
    link = urlsplit(certificates.linkedin_url(cert, URL + cert.uid))
    assert link.netloc == "www.linkedin.com" and link.path == "/profile/add"
    q = {k: v[0] for k, v in parse_qs(link.query).items()}
    assert q["startTask"] == "CERTIFICATION_NAME" and q["name"] == "Course learn"
    assert q["certId"] == cert.uid and q["certUrl"] == URL + cert.uid
    assert q["issueYear"] == str(cert.issued_at.year)


def test_no_certificate_without_enrollment(session, tmp_path, alice):
    course = build_course(session, tmp_path, notebook=UNGRADED_NOTEBOOK, lessons=1)
    lessons.deliver(session, alice, course.slug, "l1")  # a free preview
    assert session.scalars(select(Certificate)).all() == []
