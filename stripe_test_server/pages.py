"""Hosted pages: Checkout, Connect onboarding, Express dashboard, invoices and receipts (plain HTML forms)."""
from __future__ import annotations

import re
from html import escape

import tornado.web

from . import checkout, connect
from .errors import StripeError

COUNTRIES = ["US", "GB", "DE", "FR", "NL", "IE", "ES", "IT", "CA", "AU", "IN", "BR", "JP", "SG", "CH", "SE"]
STYLE = """<style>body{font-family:system-ui,sans-serif;max-width:880px;margin:2rem auto;padding:0 1rem;color:#1a1f36}
.cols{display:flex;gap:2rem;flex-wrap:wrap}.cols>section{flex:1;min-width:300px}table{width:100%;border-collapse:collapse}
td{padding:.3rem 0}td.r{text-align:right}tr.total td{font-weight:bold;border-top:1px solid #ccc}
label{display:block;margin:.6rem 0 .2rem;font-size:.9rem}input,select{width:100%;padding:.5rem;box-sizing:border-box}
button{margin-top:1rem;width:100%;padding:.7rem;background:#635bff;color:#fff;border:0;border-radius:4px;font-size:1rem}
.error{color:#df1b41;margin-top:.8rem}.muted{color:#697386;font-size:.85rem}.badge{background:#ffde92;padding:.1rem .4rem;
border-radius:3px;font-size:.75rem}</style>"""


def money(amount: int, currency: str) -> str:
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency)
    return f"{symbol}{amount / 100:,.2f}" if symbol else f"{amount / 100:,.2f} {currency.upper()}"


def page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
            f"<meta name=viewport content='width=device-width,initial-scale=1'>{STYLE}</head><body>"
            f"<p><span class=badge>TEST MODE</span> Stripe test server</p>{body}</body></html>")


class PageHandler(tornado.web.RequestHandler):
    def initialize(self, server):
        self.server = server
        self.store = server.store

    def check_xsrf_cookie(self):
        pass

    def write_error(self, status_code, **kwargs):
        self.finish(page("Error", f"<h1>{status_code}</h1><p>{escape(self._reason)}</p>"))

    def get_object(self, object_type, id_):
        try:
            return self.store.get(object_type, id_)
        except StripeError:
            raise tornado.web.HTTPError(404, reason=f"No such {object_type}") from None


class CheckoutPage(PageHandler):
    def get(self, session_id):
        self.render_session(self.get_object("checkout.session", session_id))

    def post(self, session_id):
        session = self.get_object("checkout.session", session_id)
        form = {k: self.get_body_argument(k, "").strip() for k in
                ("email", "card_number", "expiry", "cvc", "name", "country", "iban", "method")}
        exp = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", form["expiry"])
        try:
            checkout.pay(self.store, session, card=form["card_number"] if form["method"] != "sepa_debit" else None,
                         iban=form["iban"] if form["method"] == "sepa_debit" else None,
                         exp_month=int(exp.group(1)) if exp else None, exp_year=int(exp.group(2)) if exp else None,
                         cvc=form["cvc"], email=form["email"], name=form["name"] or None,
                         country=form["country"] or "US")
        except StripeError as exc:
            self.server.commit()
            self.set_status(402 if exc.status == 402 else 400)
            self.render_session(session, exc.message, form)
            return
        self.server.commit()
        self.redirect(session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]), status=303)

    def render_session(self, session, error=None, form=None):
        form = form or {}
        cur = session["currency"]
        rows = []
        for item in checkout.line_items(self.store, session):
            price = item["price"]
            every = f" / {price['recurring']['interval']}" if price["recurring"] else ""
            rows.append(f"<tr class=item><td>{escape(item['description'] or '')} × {item['quantity']}"
                        f"<div class=muted>{money(price['unit_amount'], cur)}{every} each</div></td>"
                        f"<td class=r>{money(item['amount_subtotal'], cur)}</td></tr>")
        totals = session["total_details"]
        if totals["amount_discount"]:
            coupon = self.store.objects[session["discounts"][0]["coupon"]]
            label = coupon["name"] or coupon["id"]
            rows.append(f"<tr class=discount><td>Discount ({escape(label)})</td>"
                        f"<td class=r>−{money(totals['amount_discount'], cur)}</td></tr>")
        if totals["amount_tax"]:
            rows.append(f"<tr class=tax><td>Tax</td><td class=r>{money(totals['amount_tax'], cur)}</td></tr>")
        rows.append(f"<tr class=total><td>Total due</td><td class=r id=total>{money(session['amount_total'], cur)}"
                    f"</td></tr>")
        cancel = (f"<p><a id=cancel href='{escape(session['cancel_url'])}'>← Cancel and go back</a></p>"
                  if session["cancel_url"] else "")
        if session["status"] != "open":
            message = ("This payment is complete." if session["status"] == "complete"
                       else "This Checkout Session has expired.")
            self.finish(page("Checkout", f"<h1>Checkout</h1><p id=status>{message}</p>{cancel}"))
            return
        email = form.get("email") or session["customer_email"] or ""
        country = form.get("country") or "US"
        options = "".join(f"<option{' selected' if c == country else ''}>{c}</option>" for c in COUNTRIES)
        sepa = ""
        if "sepa_debit" in session["payment_method_types"]:
            sepa = ("<label>Pay with <select name=method><option value=card>Card</option>"
                    "<option value=sepa_debit>SEPA Direct Debit</option></select></label>"
                    f"<label for=iban>IBAN</label><input id=iban name=iban value='{escape(form.get('iban', ''))}'>")
        what = "Subscribe" if session["mode"] == "subscription" else "Pay"
        body = f"""<h1>Checkout</h1><div class=cols><section><table id=summary>{''.join(rows)}</table>{cancel}</section>
<section><form method=post id=payment-form>
<label for=email>Email</label><input id=email name=email type=email required value="{escape(email)}">
{sepa}<label for=card_number>Card number</label><input id=card_number name=card_number inputmode=numeric
 autocomplete=cc-number placeholder="4242 4242 4242 4242" value="{escape(form.get('card_number', ''))}">
<label for=expiry>Expiry (MM / YY)</label><input id=expiry name=expiry placeholder="12 / 34"
 value="{escape(form.get('expiry', ''))}">
<label for=cvc>CVC</label><input id=cvc name=cvc inputmode=numeric placeholder="123">
<label for=name>Name on card</label><input id=name name=name value="{escape(form.get('name', ''))}">
<label for=country>Country or region</label><select id=country name=country>{options}</select>
<button type=submit id=submit>{what} {money(session['amount_total'], cur)}</button>
{f'<p class=error id=error role=alert>{escape(error)}</p>' if error else ''}
</form><p class=muted>Test cards: 4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined;
4000 0000 0000 0259 pays, then is disputed; 4000 0000 0000 8880 / 7775 settle later (succeed / fail).</p>
</section></div>"""
        self.finish(page("Checkout", body))


class OnboardingPage(PageHandler):
    def link(self, token):
        link = self.store.links.get(token)
        if not link or link.get("kind", "onboarding") != "onboarding":
            raise tornado.web.HTTPError(404, reason="No such account link")
        return link

    def get(self, token):
        link = self.link(token)
        if link["used"] or link["expires_at"] < self.store.now():
            if link["refresh_url"]:
                self.redirect(link["refresh_url"])
                return
            raise tornado.web.HTTPError(410, reason="This account link has expired")
        account = self.get_object("account", link["account"])
        name = account["business_profile"]["name"] or ""
        self.finish(page("Set up payouts", f"""<h1>Set up your Express account</h1>
<p>Account <code>{account['id']}</code> ({escape(account['email'] or 'no email')})</p>
<form method=post id=onboarding-form><label for=business_name>Name shown to customers</label>
<input id=business_name name=business_name value="{escape(name)}">
<label for=bank>Bank account (test)</label><input id=bank name=bank value="000123456789" readonly>
<button type=submit id=submit>Agree and submit</button></form>"""))

    def post(self, token):
        link = self.link(token)
        if link["used"] or link["expires_at"] < self.store.now():
            raise tornado.web.HTTPError(410, reason="This account link has expired")
        account = self.get_object("account", link["account"])
        connect.complete_onboarding(self.store, account, self.get_body_argument("business_name", "") or None)
        link["used"] = True
        self.server.commit()
        if link["return_url"]:
            self.redirect(link["return_url"], status=303)
        else:
            self.finish(page("Done", "<h1>You're all set</h1>"))


class ExpressDashboard(PageHandler):
    def get(self, token):
        link = self.store.links.get(token)
        if not link or link.get("kind") != "login":
            raise tornado.web.HTTPError(404, reason="No such login link")
        if link["expires_at"] < self.store.now():
            raise tornado.web.HTTPError(410, reason="This login link has expired")
        account = self.get_object("account", link["account"])
        account_id = account["id"]
        rows = "".join(f"<tr><td>{t['id']}</td><td class=r>{money(t['amount'] - t['amount_reversed'], t['currency'])}"
                       f"</td></tr>" for t in self.store.find("transfer", lambda t: t["destination"] == account_id))
        self.finish(page("Express dashboard", f"<h1>{escape(account['business_profile']['name'] or account_id)}</h1>"
                         f"<p>Balance: {money(account.get('_balance', 0), account['default_currency'])}</p>"
                         f"<table>{rows}</table>"))


class InvoicePage(PageHandler):
    def get(self, invoice_id):
        inv = self.get_object("invoice", invoice_id)
        cur = inv["currency"]
        lines = "".join(f"<tr><td>{escape(li['description'])}</td><td class=r>{money(li['amount'], cur)}</td></tr>"
                        for li in inv["lines"]["data"])
        tax = sum(t["amount"] for t in inv["total_taxes"])
        self.finish(page(f"Invoice {inv['number']}", f"""<h1>Invoice {escape(inv['number'])}</h1>
<p>Status: <b id=status>{inv['status']}</b> · {escape(inv['customer_email'] or '')}</p><table>{lines}
<tr><td>Subtotal</td><td class=r>{money(inv['subtotal'], cur)}</td></tr>
<tr><td>Tax</td><td class=r>{money(tax, cur)}</td></tr>
<tr class=total><td>Total</td><td class=r>{money(inv['total'], cur)}</td></tr></table>"""))


class ReceiptPage(PageHandler):
    def get(self, pi_id):
        pi = self.get_object("payment_intent", pi_id)
        self.finish(page("Receipt", f"<h1>Receipt</h1><p>{money(pi['amount'], pi['currency'])} — {pi['status']}</p>"))


def handlers(server):
    args = {"server": server}
    return [(r"/checkout/([^/]+)", CheckoutPage, args), (r"/connect/onboarding/([^/]+)", OnboardingPage, args),
            (r"/connect/express/([^/]+)", ExpressDashboard, args), (r"/invoices/([^/]+)", InvoicePage, args),
            (r"/receipts/([^/]+)", ReceiptPage, args)]
