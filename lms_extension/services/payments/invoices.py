"""Invoices and credit notes: gapless numbers per seller and year, PDFs rendered from a snapshot.

The number is taken from ``invoice_counters`` by one ``UPDATE ... RETURNING`` inside the
transaction that records the payment: PostgreSQL holds the row lock and SQLite the write lock
until commit, so two payments never share a number and a rolled-back payment gives its number
back. A number is never skipped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from fpdf import FPDF
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ... import permissions
from ...errors import NotFound
from ...models import User
from ...models.base import utcnow
from ...models.commerce import Invoice, InvoiceCounter, Order

PREFIX = {"invoice": "INV", "credit_note": "CN"}


@dataclass(frozen=True)
class Seller:
    name: str
    address: str  # lines separated by ';'
    vat_id: str

    @property
    def key(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", (self.vat_id or self.name).lower()).strip("-")[:48] or "seller"


def next_number(session: Session, seller_key: str, year: int) -> int:
    if session.get(InvoiceCounter, (seller_key, year)) is None:
        try:
            with session.begin_nested():
                session.add(InvoiceCounter(seller_key=seller_key, year=year, last_number=0))
        except IntegrityError:
            pass  # created by a concurrent payment
    return session.execute(
        update(InvoiceCounter).where(InvoiceCounter.seller_key == seller_key, InvoiceCounter.year == year)
        .values(last_number=InvoiceCounter.last_number + 1).returning(InvoiceCounter.last_number)
        .execution_options(synchronize_session=False)).scalar_one()


def issue(session: Session, order: Order, seller: Seller, *, source_key: str, kind: str = "invoice",
          lines: list[dict] | None = None, totals: dict | None = None, issued_at: datetime | None = None) -> Invoice:
    """The invoice for ``source_key`` (an order, a renewal, a refund), issued once."""
    existing = session.scalars(select(Invoice).where(Invoice.source_key == source_key)).one_or_none()
    if existing is not None:
        return existing
    issued_at = issued_at or utcnow()
    sign = -1 if kind == "credit_note" else 1
    if lines is None:
        lines = [{"description": ln.description, "list_cents": sign * ln.list_cents,
                  "discount_cents": sign * ln.discount_cents, "tax_cents": sign * ln.tax_cents,
                  "total_cents": sign * ln.total_cents} for ln in order.lines]
    totals = totals or {"subtotal_cents": sum(ln["list_cents"] for ln in lines),
                        "discount_cents": sum(ln["discount_cents"] for ln in lines),
                        "tax_cents": sum(ln["tax_cents"] for ln in lines),
                        "total_cents": sum(ln["total_cents"] for ln in lines)}
    buyer = session.get(User, order.user_id)
    seq = next_number(session, seller.key + ("" if kind == "invoice" else ":cn"), issued_at.year)
    invoice = Invoice(
        order_id=order.id, kind=kind, source_key=source_key, seller_key=seller.key + ("" if kind == "invoice" else ":cn"),
        year=issued_at.year, sequence=seq, number=f"{PREFIX[kind]}-{issued_at.year}-{seq:06d}", issued_at=issued_at,
        currency=order.currency, snapshot={
            "seller": {"name": seller.name, "address": seller.address.split(";"), "vat_id": seller.vat_id},
            "buyer": _buyer(order, buyer),
            "lines": lines, "tax_label": order.tax_label, "tax_rate_percent": order.tax_rate_bp / 100,
            "tax_inclusive": order.tax_inclusive, "order_id": order.id,
            "payment": order.stripe_payment_intent_id or order.stripe_subscription_id or "",
        }, **totals)
    session.add(invoice)
    session.flush()
    return invoice


def _buyer(order: Order, buyer: User) -> dict:
    """The buyer as entered at checkout (name, address, VAT ID), else by display name."""
    town = " ".join(p for p in (order.billing_postal_code, order.billing_city) if p)
    return {"name": order.billing_name or buyer.display_name or buyer.hub_name, "username": buyer.hub_name,
            "address": [line for line in (order.billing_street, town) if line], "vat_id": order.billing_vat_id,
            "country": order.country}


def for_order(session: Session, order: Order) -> list[Invoice]:
    return list(session.scalars(select(Invoice).where(Invoice.order_id == order.id).order_by(Invoice.id)))


def for_user(session: Session, user: User, invoice_id: int) -> Invoice:
    """The buyer's own invoice; admins read any (those of deleted accounts included)."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or (not permissions.is_admin(user) and session.get(Order, invoice.order_id).user_id != user.id):
        raise NotFound(f"no invoice {invoice_id}")
    return invoice


def anonymise_buyer(session: Session, user_id: int, *, name: str, username: str) -> int:
    """The buyer on ``user_id``'s invoices becomes ``name``/``username`` (account erasure); the
    number, date, lines, amounts and the buyer's country (it decided the tax) stay. How many."""
    rows = list(session.scalars(select(Invoice).join(Order, Order.id == Invoice.order_id)
                                .where(Order.user_id == user_id)))
    for invoice in rows:
        snap = dict(invoice.snapshot)
        buyer = dict(snap.get("buyer") or {})
        snap["buyer"] = {**{k: v for k, v in buyer.items() if k == "country"}, "name": name, "username": username}
        invoice.snapshot = snap  # a new dict: JSON columns do not track changes inside
    return len(rows)


def _money(cents: int, currency: str) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) / 100:,.2f} {currency.upper()}"


def _latin1(text: str) -> str:
    return str(text).encode("latin-1", "replace").decode("latin-1")


def render_pdf(invoice: Invoice) -> bytes:
    snap = invoice.snapshot
    title = "Credit note" if invoice.kind == "credit_note" else ("Invoice" if snap["seller"].get("vat_id") else "Receipt")
    pdf = FPDF(format="A4")
    pdf.set_title(f"{title} {invoice.number}")
    pdf.set_creator("Jupyter LMS")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _latin1(f"{title} {invoice.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, f"Date: {invoice.issued_at:%Y-%m-%d}    Order: {snap['order_id']}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    seller, buyer = snap["seller"], snap["buyer"]
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(95, 6, "Seller")
    pdf.cell(0, 6, "Buyer", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    left = [seller["name"], *seller["address"]] + ([f"VAT id: {seller['vat_id']}"] if seller.get("vat_id") else [])
    right = [buyer["name"], *buyer.get("address", ()), f"Country: {buyer['country']}"]
    right += ([f"VAT id: {buyer['vat_id']}"] if buyer.get("vat_id") else []) + [f"User: {buyer['username']}"]
    for i in range(max(len(left), len(right))):
        pdf.cell(95, 5, _latin1(left[i] if i < len(left) else ""))
        pdf.cell(0, 5, _latin1(right[i] if i < len(right) else ""), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    widths = (80, 28, 25, 25, 32)
    pdf.set_font("Helvetica", "B", 10)
    for w, head in zip(widths, ("Item", "Price", "Discount", snap["tax_label"] or "Tax", "Total")):
        pdf.cell(w, 7, _latin1(head), border="B", align="L" if w == 80 else "R")
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    cur = invoice.currency
    for ln in snap["lines"]:
        pdf.cell(widths[0], 7, _latin1(ln["description"][:48]))
        for w, key in zip(widths[1:], ("list_cents", "discount_cents", "tax_cents", "total_cents")):
            pdf.cell(w, 7, _money(ln[key], cur), align="R")
        pdf.ln()
    pdf.ln(3)
    rate = f"{snap['tax_label']} {snap['tax_rate_percent']:g}%" + (" (included)" if snap["tax_inclusive"] else "")
    for label, cents in (("Subtotal", invoice.subtotal_cents), ("Discount", -invoice.discount_cents),
                         (rate, invoice.tax_cents), ("Total", invoice.total_cents)):
        pdf.set_font("Helvetica", "B" if label == "Total" else "", 10)
        pdf.cell(158, 7, _latin1(label), align="R")
        pdf.cell(32, 7, _money(cents, cur), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("Helvetica", "", 8)
    if snap.get("payment"):
        pdf.cell(0, 5, _latin1(f"Paid by card through Stripe ({snap['payment']})."), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
