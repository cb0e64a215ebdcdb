"""``/api/v1`` certificates: mine, and public verification."""
from __future__ import annotations

from ...services import certificates
from ..base import APIHandler, requires_user, verify_url
from .spec import SECURITY, errors, path_param, ref, response


class MyCertificatesAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        self.write_json({"certificates": [certificates.view(c, verify_url(self, c.uid))
                                          for c in certificates.certificates_of(self.db, user)]})


class CertificateAPI(APIHandler):
    """Public: anyone holding the id may verify a certificate."""

    def get(self, uid: str):
        cert = certificates.get(self.db, uid)
        self.write_json(certificates.view(cert, verify_url(self, cert.uid)))


default_handlers = [
    (r"api/v1/me/certificates", MyCertificatesAPI),
    (r"api/v1/certificates/([^/]+)", CertificateAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

OPENAPI_PATHS: dict = {
    "/me/certificates": {"get": {"summary": "My certificates", "security": SECURITY, "responses": {
        "200": response("Certificates", {"type": "object", "properties": {
            "certificates": {"type": "array", "items": ref("Certificate")}}}), **errors(401)}}},
    "/certificates/{uid}": {"get": {"summary": "Verify a certificate (public)", "parameters": [path_param("uid")],
                                    "responses": {"200": response("Valid or revoked", ref("Certificate")), **errors(404)}}},
}
OPENAPI_SCHEMAS: dict = {
    "Certificate": {"type": "object", "required": ["id", "student", "course", "issued_at", "valid"], "properties": {
        "id": {"type": "string"}, "student": {"type": "string"}, "course": {"type": "string"},
        "instructor": {"type": "string"}, "issued_at": {"type": "string"}, "valid": {"type": "boolean"},
        "revoked_at": {"type": "string", "nullable": True}, "verify_url": {"type": "string"},
        "pdf_url": {"type": "string"}, "linkedin_url": {"type": "string"}}},
}
