"""Allowed parameters per endpoint: the subset of the real Stripe API (names checked against the
official SDK's parameter types by ``tests/stripe_server/test_schemas.py``) that the server implements."""
from __future__ import annotations

from .params import BOOL, EXPAND, INT, MAP, NUM, STR, Enum, List, Range

PAGE = {"limit": INT, "starting_after": STR, "ending_before": STR, "expand": EXPAND}
LISTED = {**PAGE, "created": Range()}
RETRIEVE = {"expand": EXPAND}
INTERVAL = Enum("day", "week", "month", "year")

PRODUCT_CREATE = {"name": STR, "id": STR, "active": BOOL, "description": STR, "metadata": MAP,
                  "images": List(STR), "url": STR, "tax_code": STR, "expand": EXPAND,
                  "default_price_data": {"currency": STR, "unit_amount": INT, "tax_behavior": Enum(
                      "exclusive", "inclusive", "unspecified"), "recurring": {"interval": INTERVAL, "interval_count": INT}}}
PRODUCT_UPDATE = {"name": STR, "active": BOOL, "description": STR, "metadata": MAP, "images": List(STR),
                  "url": STR, "default_price": STR, "expand": EXPAND}
PRODUCT_LIST = {**LISTED, "active": BOOL, "ids": List(STR)}

RECURRING = {"interval": INTERVAL, "interval_count": INT}
TAX_BEHAVIOR = Enum("exclusive", "inclusive", "unspecified")
PRICE_CREATE = {"currency": STR, "unit_amount": INT, "product": STR, "active": BOOL, "metadata": MAP,
                "nickname": STR, "lookup_key": STR, "recurring": RECURRING, "tax_behavior": TAX_BEHAVIOR,
                "product_data": {"name": STR, "active": BOOL, "metadata": MAP, "tax_code": STR},
                "expand": EXPAND}
PRICE_UPDATE = {"active": BOOL, "metadata": MAP, "nickname": STR, "lookup_key": STR, "expand": EXPAND}
PRICE_LIST = {**LISTED, "active": BOOL, "currency": STR, "product": STR, "type": Enum("one_time", "recurring"),
              "lookup_keys": List(STR)}

ADDRESS = {"city": STR, "country": STR, "line1": STR, "line2": STR, "postal_code": STR, "state": STR}
CUSTOMER_CREATE = {"email": STR, "name": STR, "description": STR, "metadata": MAP, "phone": STR,
                   "address": ADDRESS, "expand": EXPAND}
CUSTOMER_UPDATE = CUSTOMER_CREATE
CUSTOMER_LIST = {**LISTED, "email": STR}

COUPON_CREATE = {"id": STR, "name": STR, "percent_off": NUM, "amount_off": INT, "currency": STR,
                 "duration": Enum("forever", "once", "repeating"), "duration_in_months": INT,
                 "max_redemptions": INT, "redeem_by": INT, "metadata": MAP, "expand": EXPAND}
COUPON_UPDATE = {"name": STR, "metadata": MAP, "expand": EXPAND}

TAX_RATE_CREATE = {"display_name": STR, "inclusive": BOOL, "percentage": NUM, "country": STR, "state": STR,
                   "jurisdiction": STR, "description": STR, "active": BOOL, "metadata": MAP,
                   "tax_type": Enum("amusement_tax", "communications_tax", "gst", "hst", "igst", "jct",
                                    "lease_tax", "pst", "qst", "retail_delivery_fee", "rst", "sales_tax",
                                    "service_tax", "vat"), "expand": EXPAND}
TAX_RATE_UPDATE = {"display_name": STR, "active": BOOL, "country": STR, "state": STR, "jurisdiction": STR,
                   "description": STR, "metadata": MAP, "expand": EXPAND}
TAX_RATE_LIST = {**LISTED, "active": BOOL, "inclusive": BOOL}

PRICE_DATA = {"currency": STR, "unit_amount": INT, "product": STR, "recurring": RECURRING,
              "tax_behavior": TAX_BEHAVIOR,
              "product_data": {"name": STR, "description": STR, "images": List(STR), "metadata": MAP,
                               "tax_code": STR}}
SESSION_CREATE = {
    "mode": Enum("payment", "setup", "subscription"),
    "line_items": List({"price": STR, "price_data": PRICE_DATA, "quantity": INT, "tax_rates": List(STR),
                        "metadata": MAP}),
    "discounts": List({"coupon": STR, "promotion_code": STR}),
    "allow_promotion_codes": BOOL,
    "metadata": MAP, "client_reference_id": STR, "customer": STR, "customer_email": STR,
    "customer_creation": Enum("always", "if_required"),
    "success_url": STR, "cancel_url": STR, "expires_at": INT, "locale": STR,
    "allowed_payment_method_types": List(STR), "currency": STR,
    "billing_address_collection": Enum("auto", "required"),
    "submit_type": Enum("auto", "book", "donate", "pay", "subscribe"),
    "payment_intent_data": {"metadata": MAP, "description": STR, "transfer_group": STR,
                            "application_fee_amount": INT, "receipt_email": STR,
                            "transfer_data": {"destination": STR, "amount": INT}, "on_behalf_of": STR},
    "subscription_data": {"metadata": MAP, "description": STR, "trial_period_days": INT,
                          "application_fee_percent": NUM, "transfer_data": {"destination": STR,
                                                                            "amount_percent": NUM},
                          "default_tax_rates": List(STR)},
    "invoice_creation": {"enabled": BOOL, "invoice_data": {"description": STR, "metadata": MAP, "footer": STR}},
    "expand": EXPAND,
}
SESSION_LIST = {**LISTED, "payment_intent": STR, "subscription": STR, "customer": STR,
                "status": Enum("complete", "expired", "open")}
SESSION_UPDATE = {"metadata": MAP, "expand": EXPAND}
SESSION_EXPIRE = {"expand": EXPAND}

PAYMENT_INTENT_LIST = {**LISTED, "customer": STR}
PAYMENT_INTENT_UPDATE = {"metadata": MAP, "description": STR, "expand": EXPAND}
CHARGE_LIST = {**LISTED, "customer": STR, "payment_intent": STR, "transfer_group": STR}
CHARGE_UPDATE = {"metadata": MAP, "description": STR, "expand": EXPAND}

REFUND_CREATE = {"payment_intent": STR, "charge": STR, "amount": INT, "metadata": MAP,
                 "reason": Enum("duplicate", "fraudulent", "requested_by_customer"),
                 "reverse_transfer": BOOL, "refund_application_fee": BOOL, "expand": EXPAND}
REFUND_LIST = {**LISTED, "charge": STR, "payment_intent": STR}
REFUND_UPDATE = {"metadata": MAP, "expand": EXPAND}

DISPUTE_LIST = {**LISTED, "charge": STR, "payment_intent": STR}
DISPUTE_UPDATE = {"evidence": {"uncategorized_text": STR, "product_description": STR,
                               "customer_email_address": STR, "access_activity_log": STR},
                  "metadata": MAP, "submit": BOOL, "expand": EXPAND}

INVOICE_LIST = {**LISTED, "customer": STR, "subscription": STR,
                "status": Enum("draft", "open", "paid", "uncollectible", "void")}

SUBSCRIPTION_LIST = {**LISTED, "customer": STR, "price": STR,
                     "status": Enum("active", "all", "canceled", "ended", "incomplete", "incomplete_expired",
                                    "past_due", "paused", "trialing", "unpaid")}
SUBSCRIPTION_UPDATE = {"cancel_at_period_end": BOOL, "metadata": MAP, "description": STR, "expand": EXPAND,
                       "cancellation_details": {"comment": STR, "feedback": STR}}
SUBSCRIPTION_CANCEL = {"invoice_now": BOOL, "prorate": BOOL, "expand": EXPAND,
                       "cancellation_details": {"comment": STR, "feedback": STR}}

CAPABILITY = {"requested": BOOL}
ACCOUNT_CREATE = {"type": Enum("custom", "express", "standard"), "country": STR, "email": STR,
                  "business_type": Enum("company", "government_entity", "individual", "non_profit"),
                  "capabilities": {"card_payments": CAPABILITY, "transfers": CAPABILITY},
                  "business_profile": {"name": STR, "url": STR, "product_description": STR, "mcc": STR},
                  "metadata": MAP, "default_currency": STR, "expand": EXPAND}
ACCOUNT_UPDATE = {"email": STR, "metadata": MAP, "business_profile": ACCOUNT_CREATE["business_profile"],
                  "expand": EXPAND}
ACCOUNT_LINK_CREATE = {"account": STR, "refresh_url": STR, "return_url": STR,
                       "type": Enum("account_onboarding", "account_update"),
                       "collect": Enum("currently_due", "eventually_due"), "expand": EXPAND}
LOGIN_LINK_CREATE = {"expand": EXPAND}

TRANSFER_CREATE = {"amount": INT, "currency": STR, "destination": STR, "transfer_group": STR,
                   "source_transaction": STR, "description": STR, "metadata": MAP, "expand": EXPAND}
TRANSFER_UPDATE = {"description": STR, "metadata": MAP, "expand": EXPAND}
TRANSFER_LIST = {**LISTED, "destination": STR, "transfer_group": STR}
REVERSAL_CREATE = {"amount": INT, "description": STR, "metadata": MAP, "refund_application_fee": BOOL,
                   "expand": EXPAND}

WEBHOOK_CREATE = {"url": STR, "enabled_events": List(STR), "description": STR, "metadata": MAP,
                  "api_version": STR, "connect": BOOL, "expand": EXPAND}
WEBHOOK_UPDATE = {"url": STR, "enabled_events": List(STR), "description": STR, "metadata": MAP,
                  "disabled": BOOL, "expand": EXPAND}
EVENT_LIST = {**LISTED, "type": STR, "types": List(STR), "delivery_success": BOOL}
BALANCE_TRANSACTION_LIST = {**LISTED, "source": STR, "type": STR, "currency": STR}
