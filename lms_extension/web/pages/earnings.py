"""The instructor's earnings page and Stripe Connect onboarding."""
from __future__ import annotations

from tornado import web

from ...models import Course
from ...services.payments import ledger, payouts
from ..base import BaseHandler, CommerceMixin


# the ledger's entry kinds as an instructor reads them
KIND_LABELS = {"sale": "Sale", "platform_fee": "Platform fee", "tax": "Tax", "refund": "Refund",
               "reversal": "Platform fee returned", "payout": "Payout"}

class EarningsPage(CommerceMixin, BaseHandler):
    @web.authenticated
    def get(self):
        user = self.require_user()
        instructor = payouts.instructor_of(self.db, user)
        account = payouts.account_of(self.db, instructor)
        self.db.commit()
        period = self.get_argument("period", "day")
        if period not in ("day", "week", "month"):
            period = "day"
        per_course = ledger.per_course(self.db, instructor.id)
        history = ledger.history(self.db, instructor.id, 50)
        course_ids = set(per_course) | {e.course_id for e in history if e.course_id}
        titles = {c.id: c.title for c in self.db.query(Course).filter(Course.id.in_(list(course_ids) or [0]))}
        points = ledger.series(self.db, instructor.id, {"day": "day", "week": "week", "month": "month"}[period],
                               points={"day": 30, "week": 12, "month": 12}[period])
        self.render_page("commerce/earnings.html", balances=ledger.balances(self.db, instructor.id),
                         history=history, kind_labels=KIND_LABELS, per_course=per_course, titles=titles,
                         account=account, period=period, chart=_bar_chart(points),
                         share=ledger.share_bp(self.db, instructor.id, self.policy.platform_share_percent) / 100,
                         hold_days=self.policy.payout_hold_days)


class ConnectPage(CommerceMixin, BaseHandler):
    @web.authenticated
    def post(self):
        user = self.require_user()
        url = payouts.start_onboarding(self.db, self.stripe, user, return_url=self.public_url("earnings/connect/return"),
                                       refresh_url=self.public_url("earnings"))
        self.db.commit()
        self.redirect(url, status=303)


class ConnectReturnPage(CommerceMixin, BaseHandler):
    @web.authenticated
    def get(self):
        payouts.refresh_account(self.db, self.stripe, self.require_user())
        self.db.commit()
        self.redirect(f"{self.config.service_prefix}earnings")


def _bar_chart(points: list[tuple[str, int]], width: int = 720, height: int = 180) -> dict:
    """Geometry of a server-rendered SVG bar chart (no JavaScript, no CDN)."""
    top = max([abs(v) for _, v in points] + [1])
    n = max(len(points), 1)
    slot = width / n
    bars = []
    for i, (label, value) in enumerate(points):
        h = round((height - 30) * abs(value) / top)
        bars.append({"x": round(i * slot + slot * 0.15, 1), "w": round(slot * 0.7, 1), "y": height - 20 - h, "h": h,
                     "label": label, "value": value, "negative": value < 0,
                     "show_label": n <= 12 or i % max(1, n // 10) == 0})
    return {"width": width, "height": height, "bars": bars, "top": top}


default_handlers = [
    (r"earnings", EarningsPage),
    (r"earnings/connect", ConnectPage),
    (r"earnings/connect/return", ConnectReturnPage),
]
