"""Refunds: the buyer's request form, and the approvals page of those who decide."""
from __future__ import annotations

from tornado import web

from ... import permissions
from ...errors import LMSError
from ...services.payments import refunds
from ..base import BaseHandler, CommerceMixin


class RefundRequestPage(CommerceMixin, BaseHandler):
    @web.authenticated
    def post(self, order_id: str):
        user = self.require_user()
        try:
            refunds.request_refund(self.db, self.policy, user, int(order_id), self.get_argument("reason", ""))
        except LMSError as exc:
            if exc.status == 404:
                raise
            self.db.rollback()
            self.add_notice(exc.message)
            self.redirect(f"{self.config.service_prefix}purchases", status=303)
            return
        self.db.commit()
        self.add_notice("Refund requested.")
        self.redirect(f"{self.config.service_prefix}purchases", status=303)


class RefundApprovalsPage(CommerceMixin, BaseHandler):
    @web.authenticated
    def get(self, request_id: str | None = None):
        user = self.require_user()
        # a student has no courses to decide for: a page saying "your courses" would be wrong
        permissions.require_instructor(user, "refund requests are decided by the course's instructor or an admin")
        rows = [(r, refunds.course_titles(self.db, r.order)) for r in refunds.pending_for(self.db, user)]
        # an admin decides inside the console; an instructor on a page of their own
        template = "admin/refunds.html" if permissions.is_admin(user) else "commerce/refunds.html"
        self.render_page(template, rows=rows)

    @web.authenticated
    def post(self, request_id: str | None = None):
        user = self.require_user()
        approve = self.get_argument("decision", "") == "approve"
        try:
            # a rejection needs no Stripe (and works where payments are not set up)
            refunds.decide(self.db, self.stripe if approve else None, self.policy, user, int(request_id), approve)
        except LMSError as exc:
            if exc.status in (403, 404):
                raise
            self.db.rollback()
            self.add_notice(exc.message)
            self.redirect(f"{self.config.service_prefix}refunds", status=303)
            return
        self.db.commit()
        self.add_notice("Refunded." if approve else "Rejected.")
        self.redirect(f"{self.config.service_prefix}refunds", status=303)


default_handlers = [
    (r"purchases/([0-9]{1,9})/refund", RefundRequestPage),
    (r"refunds", RefundApprovalsPage),
    (r"refunds/([0-9]{1,9})", RefundApprovalsPage),
]
