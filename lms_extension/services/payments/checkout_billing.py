"""The buyer's billing details entered at checkout: name, postal address and an optional VAT ID.

They are stored on the order and copied into the invoice snapshot. The VAT ID is checked by
format only (the pattern each EU member state publishes for VIES); its prefix must be the
country chosen for tax. Reverse charge for businesses is not applied: a valid VAT ID is printed
on the invoice and the consumer VAT rate still applies.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass

from ...errors import InvalidInput

# country (ISO 3166 alpha-2) -> (VAT prefix, the part after the prefix)
VAT_FORMATS: dict[str, tuple[str, str]] = {
    "AT": ("AT", r"U\d{8}"),
    "BE": ("BE", r"[01]\d{9}"),
    "BG": ("BG", r"\d{9,10}"),
    "CY": ("CY", r"\d{8}[A-Z]"),
    "CZ": ("CZ", r"\d{8,10}"),
    "DE": ("DE", r"\d{9}"),
    "DK": ("DK", r"\d{8}"),
    "EE": ("EE", r"\d{9}"),
    "GR": ("EL", r"\d{9}"),  # Greece's VAT prefix is EL, not its ISO code
    "ES": ("ES", r"[A-Z0-9]\d{7}[A-Z0-9]"),
    "FI": ("FI", r"\d{8}"),
    "FR": ("FR", r"[A-HJ-NP-Z0-9]{2}\d{9}"),
    "HR": ("HR", r"\d{11}"),
    "HU": ("HU", r"\d{8}"),
    "IE": ("IE", r"\d{7}[A-W][A-IW]?|\d[A-Z+*]\d{5}[A-W]"),
    "IT": ("IT", r"\d{11}"),
    "LT": ("LT", r"\d{9}|\d{12}"),
    "LU": ("LU", r"\d{8}"),
    "LV": ("LV", r"\d{11}"),
    "MT": ("MT", r"\d{8}"),
    "NL": ("NL", r"\d{9}B\d{2}"),
    "PL": ("PL", r"\d{10}"),
    "PT": ("PT", r"\d{9}"),
    "RO": ("RO", r"\d{2,10}"),
    "SE": ("SE", r"\d{12}"),
    "SI": ("SI", r"\d{8}"),
    "SK": ("SK", r"\d{10}"),
}
EXAMPLES = {"DE": "DE123456789", "FR": "FRXX123456789", "NL": "NL123456789B01", "AT": "ATU12345678",
            "IT": "IT12345678901", "ES": "ESX1234567X", "IE": "IE1234567T", "BE": "BE0123456789",
            "SE": "SE123456789001", "PL": "PL1234567890", "GR": "EL123456789"}
FIELDS = ("name", "street", "postal_code", "city", "vat_id")
LIMITS = {"name": 200, "street": 200, "postal_code": 20, "city": 100, "vat_id": 20}
LABELS = {"name": "Billing name", "street": "Street", "postal_code": "Postal code", "city": "City", "vat_id": "VAT ID"}


@dataclass(frozen=True)
class Billing:
    name: str
    street: str = ""
    postal_code: str = ""
    city: str = ""
    vat_id: str = ""

    def order_fields(self) -> dict:
        return {f"billing_{k}": v for k, v in asdict(self).items()}

    @property
    def address_lines(self) -> list[str]:
        town = " ".join(p for p in (self.postal_code, self.city) if p)
        return [line for line in (self.street, town) if line]


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)


def clean_text(label: str, raw, limit: int) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise InvalidInput(f"{label} must be text", field=label)
    if _has_control(raw):
        raise InvalidInput(f"{label} may not contain control characters or line breaks", field=label)
    value = " ".join(raw.split())
    if len(value) > limit:
        raise InvalidInput(f"{label} is too long (at most {limit} characters)", field=label)
    return value


def normalize_vat_id(raw: str) -> str:
    return re.sub(r"[\s.\-]", "", raw).upper()


def check_vat_id(raw: str, country: str) -> str:
    """``raw`` as a normalised VAT ID of ``country`` (``""`` when empty); refuses a bad format."""
    vat = normalize_vat_id(raw)
    if not vat:
        return ""
    fmt = VAT_FORMATS.get(country)
    if fmt is None:
        raise InvalidInput(f"a VAT ID is taken only for EU countries; {country} is not one", field="vat_id")
    prefix, body = fmt
    if not vat.startswith(prefix):
        raise InvalidInput(f"a VAT ID for {country} starts with {prefix} (the country chosen above)", field="vat_id")
    if not re.fullmatch(f"(?:{body})", vat[len(prefix):], re.ASCII):  # \d is not only 0-9 otherwise
        example = EXAMPLES.get(country)
        hint = f" (for example {example})" if example else ""
        raise InvalidInput(f"{vat} is not a valid {prefix} VAT ID format{hint}", field="vat_id")
    return vat


def parse(data: dict, *, country: str, default_name: str) -> Billing:
    """Billing details from the checkout form; every refusal names its field (``details['field']``)."""
    values = {}
    for key in FIELDS:
        try:
            values[key] = clean_text(LABELS[key], data.get(key), LIMITS[key])
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field=key) from None
    name = values["name"] or " ".join((default_name or "").split())[:LIMITS["name"]]
    if not name:
        raise InvalidInput("enter the name to put on the invoice", field="name")
    address = [values[k] for k in ("street", "postal_code", "city")]
    if any(address) and not all(address):
        missing = [LABELS[k].lower() for k in ("street", "postal_code", "city") if not values[k]]
        raise InvalidInput(f"a billing address needs street, postal code and city: add the {', '.join(missing)}",
                           field=next(k for k in ("street", "postal_code", "city") if not values[k]))
    return Billing(name=name, street=values["street"], postal_code=values["postal_code"], city=values["city"],
                   vat_id=check_vat_id(values["vat_id"], country))
