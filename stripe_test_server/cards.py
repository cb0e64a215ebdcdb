"""Test payment methods and what they do (Stripe's documented test numbers plus two of ours)."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import StripeError


@dataclass(frozen=True)
class Outcome:
    brand: str = "visa"
    result: str = "succeeded"  # succeeded | declined | async_succeeded | async_failed
    decline_code: str | None = None
    message: str | None = None
    code: str = "card_declined"
    dispute: bool = False
    funding: str = "credit"
    type: str = "card"


DECLINED = "Your card was declined."
CARDS = {
    "4242424242424242": Outcome(),
    "4000056655665556": Outcome(funding="debit"),
    "5555555555554444": Outcome(brand="mastercard"),
    "378282246310005": Outcome(brand="amex"),
    "4000000000000077": Outcome(),
    "4000000000000259": Outcome(dispute=True),
    "4000000000000002": Outcome(result="declined", decline_code="generic_decline", message=DECLINED),
    "4000000000009995": Outcome(result="declined", decline_code="insufficient_funds",
                                message="Your card has insufficient funds."),
    "4000000000000069": Outcome(result="declined", decline_code="expired_card", code="expired_card",
                                message="Your card has expired."),
    "4000000000000127": Outcome(result="declined", decline_code="incorrect_cvc", code="incorrect_cvc",
                                message="Your card's security code is incorrect."),
    # ours, not Stripe's: card payments that settle later, like bank debits do
    "4000000000008880": Outcome(result="async_succeeded"),
    "4000000000007775": Outcome(result="async_failed", decline_code="generic_decline", message=DECLINED),
}
# Stripe's SEPA Direct Debit test IBANs: processing first, then succeeded / failed
IBANS = {
    "DE89370400440532013000": Outcome(brand="sepa_debit", result="async_succeeded", type="sepa_debit"),
    "DE62370400440532013001": Outcome(brand="sepa_debit", result="async_failed", type="sepa_debit",
                                      decline_code="insufficient_funds", code="insufficient_funds",
                                      message="The account has insufficient funds to cover this payment."),
}


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def card_error(message: str, code: str, param: str | None = None, decline_code: str | None = None,
               extra: dict | None = None) -> StripeError:
    return StripeError(402, "card_error", message, param=param, code=code, decline_code=decline_code, extra=extra)


def lookup(number: str | None = None, exp_month: int | None = None, exp_year: int | None = None,
           cvc: str | None = None, iban: str | None = None, now_year: int = 2026, now_month: int = 1,
           allow_sepa: bool = False) -> tuple[Outcome, dict]:
    """Validate the entered details like Checkout does; return the outcome and ``payment_method`` details."""
    if iban:
        iban = iban.replace(" ", "").upper()
        if not allow_sepa:
            raise card_error("SEPA Direct Debit is not enabled for this Checkout Session.", "payment_method_invalid_parameter", "iban")
        if iban not in IBANS:
            raise card_error("The IBAN you entered is invalid (use one of Stripe's test IBANs).", "invalid_bank_account_iban", "iban")
        outcome = IBANS[iban]
        return outcome, {"type": "sepa_debit", "sepa_debit": {"bank_code": iban[4:12], "branch_code": "",
                                                               "country": iban[:2], "last4": iban[-4:]}}
    number = (number or "").replace(" ", "").replace("-", "")
    if not number.isdigit() or not 12 <= len(number) <= 19 or not luhn_ok(number):
        raise card_error("Your card number is invalid.", "incorrect_number", "number")
    if not exp_month or not exp_year or not 1 <= exp_month <= 12:
        raise card_error("Your card's expiration date is invalid.", "invalid_expiry_month", "exp_month")
    if exp_year < 100:
        exp_year += 2000
    if (exp_year, exp_month) < (now_year, now_month):
        raise card_error("Your card's expiration year is in the past.", "invalid_expiry_year", "exp_year")
    if not cvc or not cvc.isdigit() or len(cvc) not in (3, 4):
        raise card_error("Your card's security code is invalid.", "invalid_cvc", "cvc")
    outcome = CARDS.get(number)
    if outcome is None:
        raise card_error("Your card was declined. Your request was in test mode, but used a non test card. "
                         "For a list of valid test cards, visit: https://stripe.com/docs/testing.",
                         "card_declined", decline_code="test_mode_live_card")
    return outcome, {"type": "card", "card": {"brand": outcome.brand, "country": "US", "exp_month": exp_month,
                                              "exp_year": exp_year, "funding": outcome.funding,
                                              "last4": number[-4:], "fingerprint": number[-8:] + "fp"}}
