"""Commerce: products, prices, orders, coupons, tax, invoices, refunds, Stripe events, earnings ledger, payouts.

Money is integer cents everywhere. The ledger is append-only: a correction is a new row.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Timestamped, utcnow

ORDER_KINDS = ("course", "bundle", "subscription")
# pending: checkout session open; awaiting_payment: completed but unpaid (async payment);
# paid: fulfilled; refunded / disputed: access revoked; expired / failed: never paid
ORDER_STATUSES = ("pending", "awaiting_payment", "paid", "refunded", "disputed", "expired", "failed")
LEDGER_KINDS = ("sale", "platform_fee", "tax", "refund", "reversal", "payout")


class Bundle(Timestamped, Base):
    """Several courses sold together at one price."""

    __tablename__ = "bundles"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    courses: Mapped[list["Course"]] = relationship(secondary="bundle_courses", order_by="Course.id")  # noqa: F821


class BundleCourse(Base):
    __tablename__ = "bundle_courses"

    bundle_id: Mapped[int] = mapped_column(ForeignKey("bundles.id", ondelete="CASCADE"), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)


class Coupon(Timestamped, Base):
    """A discount code: percent or fixed amount, for one course or every purchase."""

    __tablename__ = "coupons"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    percent_off: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 1..100
    amount_off_cents: Mapped[int | None] = mapped_column(Integer, nullable=True)
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    # NULL: any course, bundle or plan
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), nullable=True, index=True)
    max_uses: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # reserved at checkout, given back when a checkout expires unpaid
    times_redeemed: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Order(Timestamped, Base):
    __tablename__ = "orders"
    # one open checkout per buyer and item: a student cannot hold a coupon use per checkout
    __table_args__ = (Index("uq_orders_one_pending_per_item", "user_id", "item_key", unique=True,
                            sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="SET NULL"), nullable=True, index=True)
    bundle_id: Mapped[int | None] = mapped_column(ForeignKey("bundles.id", ondelete="SET NULL"), nullable=True)
    plan: Mapped[str | None] = mapped_column(String(16), nullable=True)  # monthly | yearly
    # what is bought: course:<id>, bundle:<id> or subscription (checkout.item_key)
    item_key: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    currency: Mapped[str] = mapped_column(String(3))
    country: Mapped[str] = mapped_column(String(2))
    subtotal_cents: Mapped[int] = mapped_column(Integer)
    discount_cents: Mapped[int] = mapped_column(Integer, default=0)
    tax_cents: Mapped[int] = mapped_column(Integer, default=0)
    total_cents: Mapped[int] = mapped_column(Integer)
    tax_rate_bp: Mapped[int] = mapped_column(Integer, default=0)  # basis points: 1900 = 19 %
    tax_inclusive: Mapped[bool] = mapped_column(Boolean, default=False)
    tax_label: Mapped[str] = mapped_column(String(16), default="")
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id", ondelete="SET NULL"), nullable=True)
    stripe_session_id: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    note: Mapped[str] = mapped_column(String(255), default="")
    # billing details the buyer entered at checkout (checkout_billing); copied into the invoice
    billing_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    billing_street: Mapped[str] = mapped_column(String(200), default="", server_default="")
    billing_postal_code: Mapped[str] = mapped_column(String(20), default="", server_default="")
    billing_city: Mapped[str] = mapped_column(String(100), default="", server_default="")
    billing_vat_id: Mapped[str] = mapped_column(String(20), default="", server_default="")

    user: Mapped["User"] = relationship()  # noqa: F821
    course: Mapped["Course | None"] = relationship()  # noqa: F821
    bundle: Mapped[Bundle | None] = relationship()
    coupon: Mapped[Coupon | None] = relationship()
    lines: Mapped[list["OrderLine"]] = relationship(back_populates="order", order_by="OrderLine.id",
                                                    cascade="all, delete-orphan")


class OrderLine(Base):
    """One thing sold in an order; for a bundle, one line per course (the revenue split)."""

    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="SET NULL"), nullable=True)
    instructor_id: Mapped[int | None] = mapped_column(ForeignKey("instructors.id", ondelete="SET NULL"), nullable=True)
    description: Mapped[str] = mapped_column(String(300))
    list_cents: Mapped[int] = mapped_column(Integer)
    discount_cents: Mapped[int] = mapped_column(Integer, default=0)
    tax_cents: Mapped[int] = mapped_column(Integer, default=0)
    total_cents: Mapped[int] = mapped_column(Integer)  # what the buyer pays for this line, tax included

    order: Mapped[Order] = relationship(back_populates="lines")


class CouponRedemption(Timestamped, Base):
    __tablename__ = "coupon_redemptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    released: Mapped[bool] = mapped_column(Boolean, default=False)


class AccessGrant(Base):
    """Access to one course given by one order; unique per (order, course): granted once."""

    __tablename__ = "access_grants"
    __table_args__ = (UniqueConstraint("order_id", "course_id", name="uq_access_grants_order_course"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Subscription(Timestamped, Base):
    """All-access plan: every paid course while active."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    stripe_subscription_id: Mapped[str] = mapped_column(String(255), unique=True)
    plan: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    current_period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    canceled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class InvoiceCounter(Base):
    """The last invoice number per seller and year; incremented inside the paying transaction."""

    __tablename__ = "invoice_counters"

    seller_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Invoice(Base):
    """An issued invoice (or credit note): a frozen snapshot; the PDF is rendered from it."""

    __tablename__ = "invoices"
    __table_args__ = (UniqueConstraint("seller_key", "year", "sequence", name="uq_invoices_seller_year_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="invoice")  # invoice | credit_note
    # e.g. the Stripe invoice id of a subscription renewal: one invoice per source document
    source_key: Mapped[str] = mapped_column(String(255), unique=True)
    seller_key: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(64))  # unique per seller: (seller_key, year, sequence)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_cents: Mapped[int] = mapped_column(Integer)
    discount_cents: Mapped[int] = mapped_column(Integer)
    tax_cents: Mapped[int] = mapped_column(Integer)
    total_cents: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict] = mapped_column(JSON)  # seller, buyer, lines, tax label/rate


class StripeEvent(Base):
    """Every webhook event id, recorded once; ``processed_at`` set when acted on."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str] = mapped_column(String(255), default="")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class RefundRequest(Timestamped, Base):
    __tablename__ = "refund_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    # pending | approved | rejected | refunded
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    progress_percent: Mapped[int] = mapped_column(Integer, default=0)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), nullable=True)

    order: Mapped[Order] = relationship()


class InstructorAccount(Timestamped, Base):
    """An instructor's Stripe Connect (Express) account and revenue share."""

    __tablename__ = "instructor_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    instructor_id: Mapped[int] = mapped_column(ForeignKey("instructors.id", ondelete="CASCADE"), unique=True)
    stripe_account_id: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)
    details_submitted: Mapped[bool] = mapped_column(Boolean, default=False)
    payouts_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # basis points of the net (tax excluded) sale the instructor keeps; NULL: the configured default
    revenue_share_bp: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Payout(Timestamped, Base):
    """One transfer of available earnings to an instructor's connected account."""

    __tablename__ = "payouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    instructor_id: Mapped[int] = mapped_column(ForeignKey("instructors.id", ondelete="CASCADE"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | paid | failed
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_transfer_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    reversed_cents: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(String(500), default="")


class LedgerEntry(Base):
    """Append-only earnings ledger. ``instructor_id`` NULL is the platform's own account.

    Per order the entries sum to the money received (sale + tax), and refunds add the
    negatives; ``entry_key`` makes each posting happen once whatever the retries.
    """

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_key: Mapped[str] = mapped_column(String(255), unique=True)
    instructor_id: Mapped[int | None] = mapped_column(ForeignKey("instructors.id", ondelete="RESTRICT"),
                                                      nullable=True, index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"), nullable=True, index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="SET NULL"), nullable=True)
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("payouts.id", ondelete="RESTRICT"), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    amount_cents: Mapped[int] = mapped_column(Integer)  # signed
    currency: Mapped[str] = mapped_column(String(3))
    available_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    memo: Mapped[str] = mapped_column(String(255), default="")
