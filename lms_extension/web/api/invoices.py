"""``/api/v1/payments/invoices``: invoices and credit notes as PDF."""
from __future__ import annotations

from ...services.payments import invoices
from ..base import APIHandler, requires_user
from .spec import errors, response


class InvoicePDFAPI(APIHandler):
    @requires_user
    def get(self, invoice_id: str):
        user = self.require_user()
        invoice = invoices.for_user(self.db, user, int(invoice_id))
        self.set_header("Content-Type", "application/pdf")
        self.set_header("Content-Disposition", f'attachment; filename="{invoice.number}.pdf"')
        self.finish(invoices.render_pdf(invoice))


default_handlers = [
    (r"api/v1/payments/invoices/([0-9]{1,9})/pdf", InvoicePDFAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
OPENAPI_PATHS: dict = {
    "/payments/invoices/{id}/pdf": {"get": {"summary": "Invoice or credit note as PDF", "parameters": [_ID],
                                            "security": [{"hubToken": []}], "responses": {
        "200": response("PDF", {"type": "string", "format": "binary"}, "application/pdf"), **errors(401, 404)}}},
}
