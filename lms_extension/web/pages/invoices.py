"""An invoice or credit note as PDF."""
from __future__ import annotations

from tornado import web

from ...services.payments import invoices
from ..base import BaseHandler


class InvoicePage(BaseHandler):
    @web.authenticated
    def get(self, invoice_id: str):
        invoice = invoices.for_user(self.db, self.require_user(), int(invoice_id))
        self.set_header("Content-Type", "application/pdf")
        self.set_header("Content-Disposition", f'inline; filename="{invoice.number}.pdf"')
        self.finish(invoices.render_pdf(invoice))


default_handlers = [
    (r"invoices/([0-9]{1,9})\.pdf", InvoicePage),
]
