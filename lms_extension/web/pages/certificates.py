"""Certificate pages: the public verification page and the PDF."""
from __future__ import annotations

from ...services import certificates
from ..base import BaseHandler, verify_url


class CertificatePage(BaseHandler):
    """Public verification page: valid or revoked, with Open Graph tags for sharing."""

    def get(self, uid: str):
        cert = certificates.get(self.db, uid)
        url = verify_url(self, cert.uid)
        self.render_page("learning/certificate.html", cert=cert, info=certificates.view(cert, url), verify_url=url,
                         owner=self._page_user() is not None and self._page_user().id == cert.user_id)


class CertificatePDF(BaseHandler):
    def get(self, uid: str):
        cert = certificates.get(self.db, uid)
        data = certificates.render_pdf(cert, verify_url(self, cert.uid))
        self.set_header("Content-Type", "application/pdf")
        self.set_header("Content-Disposition", f'inline; filename="certificate-{cert.uid}.pdf"')
        self.finish(data)


default_handlers = [
    (r"certificates/([^/.]+)\.pdf", CertificatePDF),
    (r"certificates/([^/.]+)", CertificatePage),
]
