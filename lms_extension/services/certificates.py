"""Course certificates: issued on completion, rendered as PDF on the server, publicly verifiable.

``revoke_for_course`` is the commerce side's entry point: a refunded purchase revokes the
certificate of that course; the public verification page then says "revoked".
"""
from __future__ import annotations

import io
import re
import uuid
from datetime import timezone
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..models import Course, User
from ..models.base import utcnow
from ..models.learning import Certificate
from . import notifications

UID = re.compile(r"^[0-9a-f]{32}$")
FONT_CANDIDATES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                   "/usr/share/fonts/dejavu/DejaVuSans.ttf")


def for_user_course(session: Session, user_id: int, course_id: int) -> Certificate | None:
    return session.scalars(select(Certificate).where(Certificate.user_id == user_id,
                                                     Certificate.course_id == course_id)).one_or_none()


def issue(session: Session, user: User, course: Course) -> Certificate:
    """The user's certificate of ``course``, created on first call (names frozen then)."""
    existing = for_user_course(session, user.id, course.id)
    if existing is not None:
        return existing
    instructor = course.instructor.user if course.instructor is not None else None
    cert = Certificate(uid=uuid.uuid4().hex, user_id=user.id, course_id=course.id,
                       student_name=(user.display_name or user.hub_name)[:255],
                       course_title=course.title[:200],
                       instructor_name=(instructor.display_name or instructor.hub_name)[:255] if instructor else "",
                       issued_at=utcnow())
    try:
        with session.begin_nested():
            session.add(cert)
    except IntegrityError:  # issued concurrently by another request
        return for_user_course(session, user.id, course.id)
    notifications.notify(session, user_ids=[user.id], kind="certificate_issued",
                         title=f"Your certificate for {course.title} is ready",
                         body="Download it as a PDF or share its public link.",
                         url=f"certificates/{cert.uid}", dedupe_key=f"certificate:{cert.uid}")
    return cert


def rename_holder(session: Session, user_id: int, name: str) -> int:
    """The holder changed their display name on the profile page: their certificates show the
    new one (the public id, course title and date stay). How many changed."""
    rows = list(session.scalars(select(Certificate).where(Certificate.user_id == user_id)))
    for cert in rows:
        cert.student_name = name[:255]
    session.flush()
    return len(rows)


def get(session: Session, uid: str) -> Certificate:
    """A certificate by its public id; malformed and unknown ids are the same 404."""
    if not isinstance(uid, str) or not UID.match(uid):
        raise NotFound("no certificate with this id")
    cert = session.scalars(select(Certificate).where(Certificate.uid == uid)).one_or_none()
    if cert is None:
        raise NotFound("no certificate with this id")
    return cert


def certificates_of(session: Session, user: User) -> list[Certificate]:
    return list(session.scalars(select(Certificate).where(Certificate.user_id == user.id)
                                .order_by(Certificate.issued_at.desc())))


def revoke_for_course(session: Session, user_id: int, course_id: int, reason: str) -> Certificate | None:
    """Revoke the user's certificate of the course (e.g. the purchase was refunded).

    Returns the certificate, or None when there was none. Revoking twice keeps the first reason.
    """
    cert = for_user_course(session, user_id, course_id)
    if cert is not None and cert.revoked_at is None:
        cert.revoked_at = utcnow()
        cert.revoke_reason = (reason or "revoked")[:500]
        session.flush()
    return cert


def view(cert: Certificate, verify_url: str) -> dict:
    return {"id": cert.uid, "student": cert.student_name, "course": cert.course_title,
            "instructor": cert.instructor_name, "issued_at": cert.issued_at.isoformat(),
            "valid": cert.revoked_at is None,
            "revoked_at": cert.revoked_at.isoformat() if cert.revoked_at else None,
            "verify_url": verify_url, "pdf_url": verify_url + ".pdf",
            "linkedin_url": linkedin_url(cert, verify_url)}


def linkedin_url(cert: Certificate, verify_url: str) -> str:
    """LinkedIn's add-to-profile link for a certification."""
    issued = cert.issued_at.astimezone(timezone.utc)
    return "https://www.linkedin.com/profile/add?" + urlencode({
        "startTask": "CERTIFICATION_NAME", "name": cert.course_title, "organizationName": "Jupyter LMS",
        "issueYear": issued.year, "issueMonth": issued.month, "certUrl": verify_url, "certId": cert.uid})


def _font_path() -> str | None:
    return next((p for p in FONT_CANDIDATES if Path(p).is_file()), None)


def render_pdf(cert: Certificate, verify_url: str) -> bytes:
    """A one-page landscape A4 certificate with a QR code pointing to ``verify_url``."""
    import qrcode
    from fpdf import FPDF

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_title(f"Certificate: {cert.course_title}")
    pdf.set_author("Jupyter LMS")
    pdf.set_subject(cert.uid)
    pdf.set_auto_page_break(False)
    pdf.add_page()
    font = _font_path()
    if font:
        pdf.add_font("body", "", font)
        family = "body"

        def text(s: str) -> str:
            return s
    else:  # core fonts only know Latin-1
        family = "helvetica"

        def text(s: str) -> str:
            return s.encode("latin-1", "replace").decode("latin-1")

    width = pdf.w - 40
    pdf.set_draw_color(243, 119, 38)
    pdf.set_line_width(1.5)
    pdf.rect(10, 10, pdf.w - 20, pdf.h - 20)
    pdf.set_font(family, size=14)
    pdf.set_xy(20, 28)
    pdf.cell(width, 10, text("Jupyter LMS"), align="C")
    pdf.set_font(family, size=32)
    pdf.set_xy(20, 42)
    pdf.cell(width, 16, text("Certificate of Completion"), align="C")
    pdf.set_font(family, size=14)
    pdf.set_xy(20, 66)
    pdf.cell(width, 8, text("This certifies that"), align="C")
    pdf.set_font(family, size=26)
    pdf.set_xy(20, 78)
    pdf.cell(width, 14, text(cert.student_name), align="C")
    pdf.set_font(family, size=14)
    pdf.set_xy(20, 96)
    pdf.cell(width, 8, text("has completed the course"), align="C")
    pdf.set_font(family, size=22)
    pdf.set_xy(20, 106)
    pdf.multi_cell(width, 11, text(cert.course_title), align="C")
    pdf.set_font(family, size=12)
    issued = cert.issued_at.astimezone(timezone.utc).strftime("%d %B %Y")
    pdf.set_xy(20, 140)
    pdf.cell(width, 7, text(f"Date: {issued}"), align="L")
    pdf.set_xy(20, 148)
    pdf.cell(width, 7, text(f"Instructor: {cert.instructor_name or '-'}"), align="L")
    pdf.set_xy(20, 164)
    pdf.set_font(family, size=9)
    pdf.cell(width, 5, text(f"Certificate ID: {cert.uid}"), align="L")
    pdf.set_xy(20, 170)
    pdf.cell(width, 5, text(f"Verify: {verify_url}"), align="L")
    qr = qrcode.QRCode(border=1, box_size=8)
    qr.add_data(verify_url)
    qr.make(fit=True)
    image = qr.make_image(fill_color="black", back_color="white").get_image()
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    buf.seek(0)
    pdf.image(buf, x=pdf.w - 20 - 40, y=pdf.h - 20 - 48, w=40, h=40)
    return bytes(pdf.output())
