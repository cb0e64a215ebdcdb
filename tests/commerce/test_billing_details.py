"""Billing details at checkout: the VAT ID format of each EU country, hostile form values, and
the name, address and VAT ID reaching the order, the invoice snapshot and its PDF."""
import io

import pytest
from pypdf import PdfReader

from lms_extension.errors import InvalidInput
from lms_extension.services.payments import checkout, checkout_billing, invoices
from lms_extension.services.payments.checkout_billing import Billing, check_vat_id, parse

from .test_ledger_invoices import PLANS


@pytest.mark.parametrize("country, raw, expected", [
    ("DE", "DE123456789", "DE123456789"),
    ("DE", " de 123.456-789 ", "DE123456789"),
    ("FR", "FRXX123456789", "FRXX123456789"),
    ("FR", "FR12345678901", "FR12345678901"),
    ("NL", "NL123456789B01", "NL123456789B01"),
    ("AT", "ATU12345678", "ATU12345678"),
    ("GR", "EL123456789", "EL123456789"),
    ("IE", "IE1234567T", "IE1234567T"),
    ("IE", "IE1234567WA", "IE1234567WA"),
    ("ES", "ESX1234567X", "ESX1234567X"),
    ("DE", "", ""),
])
def test_valid_vat_ids(country, raw, expected):
    assert check_vat_id(raw, country) == expected


@pytest.mark.parametrize("country, raw, reason", [
    ("DE", "DE12345678", "not a valid DE VAT ID format (for example DE123456789)"),
    ("DE", "DE1234567890", "not a valid DE VAT ID"),
    ("DE", "FR12345678901", "starts with DE"),
    ("FR", "DE123456789", "starts with FR"),
    ("FR", "FRIO123456789", "not a valid FR VAT ID"),  # I and O are not used in French keys
    ("GR", "GR123456789", "starts with EL"),
    ("NL", "NL123456789X01", "not a valid NL VAT ID"),
    ("US", "US123456789", "only for EU countries"),
    ("DE", "DE12345678９", "not a valid DE VAT ID"),  # a full-width digit is not a digit here
    ("DE", "DE123456789' OR 1=1", "not a valid DE VAT ID"),
])
def test_bad_vat_ids_say_why(country, raw, reason):
    with pytest.raises(InvalidInput) as exc:
        check_vat_id(raw, country)
    assert reason in exc.value.message and exc.value.details["field"] == "vat_id"


def test_the_name_defaults_to_the_display_name_and_spaces_fold():
    b = parse({"name": "", "street": "  Hauptstr.   5 ", "postal_code": "10115", "city": "Berlin"},
              country="DE", default_name="Ada  Lovelace")
    assert b == Billing("Ada Lovelace", "Hauptstr. 5", "10115", "Berlin", "")
    assert b.address_lines == ["Hauptstr. 5", "10115 Berlin"]


@pytest.mark.parametrize("data, field, reason", [
    ({"name": "Eve\nBcc: x@example.org"}, "name", "control characters"),
    ({"name": "Eve\u202eevil"}, "name", "control characters"),
    ({"name": "x" * 201}, "name", "too long"),
    ({"name": "Eve", "street": "Main St 1"}, "postal_code", "add the postal code, city"),
    ({"name": "Eve", "city": "Paris"}, "street", "needs street, postal code and city"),
    ({"name": "Eve", "postal_code": "1" * 21}, "postal_code", "too long"),
    ({"name": ["a", "b"]}, "name", "must be text"),
    ({"name": "   "}, "name", "enter the name"),
])
def test_hostile_or_partial_billing_is_refused_naming_the_field(data, field, reason):
    with pytest.raises(InvalidInput) as exc:
        parse(data, country="DE", default_name="")
    assert reason in exc.value.message and exc.value.details["field"] == field


def test_billing_reaches_order_invoice_and_pdf(session, policy, paid_course, buyer):
    buyer.display_name = "Bea Buyer"
    billing = parse({"name": "Example GmbH", "street": "Hauptstr. 5", "postal_code": "10115", "city": "Berlin",
                     "vat_id": "de 123456789"}, country="DE", default_name=buyer.display_name)
    q = checkout.quote(session, policy.taxes, user=buyer, country="DE", course="paid-course", plan_prices=PLANS)
    order = checkout.create_order(session, buyer, q, billing)
    assert (order.billing_name, order.billing_street, order.billing_postal_code, order.billing_city,
            order.billing_vat_id) == ("Example GmbH", "Hauptstr. 5", "10115", "Berlin", "DE123456789")
    invoice = invoices.issue(session, order, policy.seller, source_key=f"order:{order.id}")
    assert invoice.snapshot["buyer"] == {"name": "Example GmbH", "username": "buyer", "country": "DE",
                                         "address": ["Hauptstr. 5", "10115 Berlin"], "vat_id": "DE123456789"}
    text = PdfReader(io.BytesIO(invoices.render_pdf(invoice))).pages[0].extract_text()
    for expected in ("Example GmbH", "Hauptstr. 5", "10115 Berlin", "VAT id: DE123456789", "User: buyer"):
        assert expected in text
    # erasure keeps the country (it decided the tax) and drops the rest
    invoices.anonymise_buyer(session, buyer.id, name="Deleted user", username="deleted")
    assert invoice.snapshot["buyer"] == {"country": "DE", "name": "Deleted user", "username": "deleted"}


def test_without_billing_the_invoice_names_the_display_name(session, policy, paid_course, buyer):
    buyer.display_name = "Bea Buyer"
    q = checkout.quote(session, policy.taxes, user=buyer, country="US", course="paid-course", plan_prices=PLANS)
    order = checkout.create_order(session, buyer, q)
    invoice = invoices.issue(session, order, policy.seller, source_key=f"order:{order.id}")
    assert invoice.snapshot["buyer"]["name"] == "Bea Buyer" and invoice.snapshot["buyer"]["address"] == []
    assert "VAT id" not in PdfReader(io.BytesIO(invoices.render_pdf(invoice))).pages[0].extract_text().split("Buyer")[1]


def test_every_eu_vat_country_has_a_format_and_an_example_that_passes():
    for country, example in checkout_billing.EXAMPLES.items():
        assert check_vat_id(example, country) == example
