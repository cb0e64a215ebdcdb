"""VAT/GST by the buyer's country, in integer cents.

Where the law expects consumer prices to include tax (EU, UK, Switzerland, Norway,
Australia, New Zealand, Japan, India), the list price *is* the tax-inclusive price and the tax
is the part of it above the net; elsewhere (US, Canada, the rest) tax, if any, is added on top.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ...errors import InvalidInput


@dataclass(frozen=True)
class TaxRule:
    rate_bp: int  # basis points: 1900 = 19 %
    inclusive: bool
    label: str


_EU_VAT = {"AT": 2000, "BE": 2100, "BG": 2000, "HR": 2500, "CY": 1900, "CZ": 2100, "DK": 2500, "EE": 2400,
           "FI": 2550, "FR": 2000, "DE": 1900, "GR": 2400, "HU": 2700, "IE": 2300, "IT": 2200, "LV": 2100,
           "LT": 2100, "LU": 1700, "MT": 1800, "NL": 2100, "PL": 2300, "PT": 2300, "RO": 2100, "SK": 2300,
           "SI": 2200, "ES": 2100, "SE": 2500}

BUILTIN: dict[str, TaxRule] = {
    **{c: TaxRule(r, True, "VAT") for c, r in _EU_VAT.items()},
    "GB": TaxRule(2000, True, "VAT"), "CH": TaxRule(810, True, "VAT"), "NO": TaxRule(2500, True, "VAT"),
    "AU": TaxRule(1000, True, "GST"), "NZ": TaxRule(1500, True, "GST"), "JP": TaxRule(1000, True, "JCT"),
    "IN": TaxRule(1800, True, "GST"), "SG": TaxRule(900, True, "GST"),
    "CA": TaxRule(500, False, "GST"), "US": TaxRule(0, False, "Sales tax"),
}

# the countries a buyer can pick on the checkout page (code, name)
COUNTRIES = [("US", "United States"), ("DE", "Germany"), ("FR", "France"), ("NL", "Netherlands"),
             ("IT", "Italy"), ("ES", "Spain"), ("IE", "Ireland"), ("AT", "Austria"), ("BE", "Belgium"),
             ("SE", "Sweden"), ("PL", "Poland"), ("GB", "United Kingdom"), ("CH", "Switzerland"),
             ("NO", "Norway"), ("AU", "Australia"), ("NZ", "New Zealand"), ("JP", "Japan"),
             ("IN", "India"), ("SG", "Singapore"), ("CA", "Canada"), ("BR", "Brazil"), ("MX", "Mexico")]
NO_TAX = TaxRule(0, False, "Tax")


class TaxTable:
    def __init__(self, rules: dict[str, TaxRule]):
        self.rules = rules

    @classmethod
    def load(cls, choice: str) -> "TaxTable":
        """``builtin``, ``none`` or the path of a JSON file ``{"DE": {"rate_bp": 1900, "inclusive": true, "label": "VAT"}}``."""
        if choice in ("", "builtin"):
            return cls(dict(BUILTIN))
        if choice == "none":
            return cls({})
        try:
            raw = json.loads(Path(choice).read_text())
            return cls({code.upper(): TaxRule(int(r["rate_bp"]), bool(r["inclusive"]), str(r.get("label", "Tax")))
                        for code, r in raw.items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput(f"tax table {choice!r} is not readable: {exc}") from None

    def rule(self, country: str) -> TaxRule:
        return self.rules.get(normalize_country(country), NO_TAX)


def normalize_country(country: str) -> str:
    code = (country or "").strip().upper()
    if len(code) != 2 or not code.isalpha() or not code.isascii():
        raise InvalidInput(f"country must be a two-letter ISO code, got {country!r}")
    return code


def split(amount_cents: int, rule: TaxRule) -> tuple[int, int]:
    """(tax, total) for a discounted price ``amount_cents`` under ``rule``.

    Inclusive: the amount is the total and the tax is carved out of it (rounded half up).
    Exclusive: the amount is the net and the tax is added.
    """
    if amount_cents < 0:
        raise InvalidInput("amounts are never negative")
    if rule.rate_bp == 0:
        return 0, amount_cents
    if rule.inclusive:
        net = (amount_cents * 10000 * 2 + (10000 + rule.rate_bp)) // (2 * (10000 + rule.rate_bp))
        return amount_cents - net, amount_cents
    tax = (amount_cents * rule.rate_bp * 2 + 10000) // 20000
    return tax, amount_cents + tax
