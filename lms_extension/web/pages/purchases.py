"""My purchases page, and stopping a subscription from it."""
from __future__ import annotations

from tornado import web

from ...services.payments import fulfillment, purchases
from ..base import BaseHandler, CommerceMixin


class PurchasesPage(CommerceMixin, BaseHandler):
    @web.authenticated
    def get(self):
        user = self.require_user()
        rows = purchases.purchase_rows(self.db, self.policy, user)
        self.render_page("commerce/purchases.html", rows=rows)


class CancelSubscriptionPage(CommerceMixin, BaseHandler):
    @web.authenticated
    def post(self, order_id: str):
        row = fulfillment.cancel_subscription(self.db, self.stripe, self.policy, self.require_user(), int(order_id))
        self.db.commit()
        end = f" on {row.current_period_end:%Y-%m-%d}" if row.current_period_end else ""
        self.add_notice(f"Your subscription will not renew; all-access ends{end}.")
        self.redirect(f"{self.config.service_prefix}purchases", status=303)


default_handlers = [
    (r"purchases", PurchasesPage),
    (r"purchases/([0-9]{1,9})/cancel", CancelSubscriptionPage),
]
