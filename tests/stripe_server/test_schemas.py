"""Every parameter the server accepts is a real Stripe parameter (checked against the SDK's own types)."""
from __future__ import annotations

import importlib
import re
import typing

import pytest
from typing_extensions import is_typeddict

from stripe_test_server import api
from stripe_test_server.params import Leaf, List

# endpoint -> the SDK's params TypedDict for it
SDK_PARAMS = {
    ("POST", "/v1/products"): "stripe.params._product_create_params:ProductCreateParams",
    ("POST", "/v1/prices"): "stripe.params._price_create_params:PriceCreateParams",
    ("GET", "/v1/prices"): "stripe.params._price_list_params:PriceListParams",
    ("POST", "/v1/customers"): "stripe.params._customer_create_params:CustomerCreateParams",
    ("POST", "/v1/coupons"): "stripe.params._coupon_create_params:CouponCreateParams",
    ("POST", "/v1/tax_rates"): "stripe.params._tax_rate_create_params:TaxRateCreateParams",
    ("POST", "/v1/checkout/sessions"): "stripe.params.checkout._session_create_params:SessionCreateParams",
    ("GET", "/v1/checkout/sessions"): "stripe.params.checkout._session_list_params:SessionListParams",
    ("POST", "/v1/refunds"): "stripe.params._refund_create_params:RefundCreateParams",
    ("GET", "/v1/charges"): "stripe.params._charge_list_params:ChargeListParams",
    ("POST", "/v1/disputes/{id}"): "stripe.params._dispute_update_params:DisputeUpdateParams",
    ("GET", "/v1/invoices"): "stripe.params._invoice_list_params:InvoiceListParams",
    ("GET", "/v1/subscriptions"): "stripe.params._subscription_list_params:SubscriptionListParams",
    ("POST", "/v1/subscriptions/{id}"): "stripe.params._subscription_update_params:SubscriptionUpdateParams",
    ("DELETE", "/v1/subscriptions/{id}"): "stripe.params._subscription_cancel_params:SubscriptionCancelParams",
    ("POST", "/v1/accounts"): "stripe.params._account_create_params:AccountCreateParams",
    ("POST", "/v1/account_links"): "stripe.params._account_link_create_params:AccountLinkCreateParams",
    ("POST", "/v1/transfers"): "stripe.params._transfer_create_params:TransferCreateParams",
    ("GET", "/v1/transfers"): "stripe.params._transfer_list_params:TransferListParams",
    ("POST", "/v1/transfers/{id}/reversals"):
        "stripe.params._transfer_create_reversal_params:TransferCreateReversalParams",
    ("POST", "/v1/webhook_endpoints"): "stripe.params._webhook_endpoint_create_params:WebhookEndpointCreateParams",
    ("POST", "/v1/webhook_endpoints/{id}"):
        "stripe.params._webhook_endpoint_update_params:WebhookEndpointUpdateParams",
    ("GET", "/v1/events"): "stripe.params._event_list_params:EventListParams",
    ("POST", "/v1/products/{id}"): "stripe.params._product_update_params:ProductUpdateParams",
    ("GET", "/v1/products"): "stripe.params._product_list_params:ProductListParams",
    ("POST", "/v1/prices/{id}"): "stripe.params._price_update_params:PriceUpdateParams",
    ("POST", "/v1/customers/{id}"): "stripe.params._customer_update_params:CustomerUpdateParams",
    ("GET", "/v1/customers"): "stripe.params._customer_list_params:CustomerListParams",
    ("POST", "/v1/coupons/{id}"): "stripe.params._coupon_update_params:CouponUpdateParams",
    ("POST", "/v1/tax_rates/{id}"): "stripe.params._tax_rate_update_params:TaxRateUpdateParams",
    ("GET", "/v1/tax_rates"): "stripe.params._tax_rate_list_params:TaxRateListParams",
    ("POST", "/v1/checkout/sessions/{id}"): "stripe.params.checkout._session_update_params:SessionUpdateParams",
    ("GET", "/v1/payment_intents"): "stripe.params._payment_intent_list_params:PaymentIntentListParams",
    ("POST", "/v1/payment_intents/{id}"): "stripe.params._payment_intent_update_params:PaymentIntentUpdateParams",
    ("POST", "/v1/charges/{id}"): "stripe.params._charge_update_params:ChargeUpdateParams",
    ("GET", "/v1/refunds"): "stripe.params._refund_list_params:RefundListParams",
    ("POST", "/v1/refunds/{id}"): "stripe.params._refund_update_params:RefundUpdateParams",
    ("GET", "/v1/disputes"): "stripe.params._dispute_list_params:DisputeListParams",
    ("POST", "/v1/accounts/{id}"): "stripe.params._account_update_params:AccountUpdateParams",
    ("POST", "/v1/transfers/{id}"): "stripe.params._transfer_update_params:TransferUpdateParams",
    ("GET", "/v1/balance_transactions"):
        "stripe.params._balance_transaction_list_params:BalanceTransactionListParams",
}


def schema_for(method, pattern):
    path = pattern.replace("{id}", "x_1")
    found = api.find_route(method, path)
    assert found, (method, pattern)
    return found[0]


def typed_dict(annotation, namespace):
    """The TypedDict inside NotRequired["X"], List["X"], Union[..., Literal['']] and friends."""
    if isinstance(annotation, typing.ForwardRef):
        annotation = annotation.__forward_arg__
    if isinstance(annotation, str):  # e.g. "Literal['']|SessionCreateParamsLineItem"
        names = [namespace.get(n) for n in re.findall(r"[A-Za-z_]\w*", annotation)]
        return next((n for n in names if n is not None and is_typeddict(n)), None)
    if is_typeddict(annotation):
        return annotation
    for arg in typing.get_args(annotation):
        found = typed_dict(arg, namespace)
        if found is not None:
            return found
    return None


def annotations(cls):
    """Declared keys of a TypedDict (own and inherited), without evaluating the SDK's forward references."""
    out = {}
    for klass in reversed(cls.__mro__):
        out.update(getattr(klass, "__annotations__", {}))
    return out


def unknown_names(schema, cls, path=""):
    hints = annotations(cls)
    namespace = vars(importlib.import_module(cls.__module__))
    bad = []
    for name, node in schema.items():
        where = f"{path}[{name}]" if path else name
        if name not in hints:
            bad.append(where)
            continue
        if isinstance(node, List):
            node = node.item
        if isinstance(node, dict):
            sub = typed_dict(hints[name], namespace)
            if sub is None:
                bad.append(where + " (not an object in the SDK)")
            else:
                bad.extend(unknown_names(node, sub, where))
        else:
            assert isinstance(node, Leaf)
    return bad


@pytest.mark.parametrize("endpoint", sorted(SDK_PARAMS), ids=lambda e: f"{e[0]} {e[1]}")
def test_parameters_exist_in_the_real_api(endpoint):
    module, _, name = SDK_PARAMS[endpoint].partition(":")
    cls = getattr(importlib.import_module(module), name)
    assert unknown_names(schema_for(*endpoint), cls) == []
