import json

import pytest

from lms_extension.errors import InvalidInput
from lms_extension.services.payments.tax import TaxRule, TaxTable, normalize_country, split


@pytest.mark.parametrize("amount,rule,expected", [
    (4900, TaxRule(1900, True, "VAT"), (782, 4900)),      # DE: 4900 / 1.19 = 4117.6 -> net 4118
    (4900, TaxRule(2000, True, "VAT"), (817, 4900)),      # GB: 4900 / 1.2 = 4083.3 -> net 4083
    (4900, TaxRule(1000, True, "GST"), (445, 4900)),      # AU: 4900 / 1.1 = 4454.5 -> net 4455
    (4900, TaxRule(500, False, "GST"), (245, 5145)),      # CA: added on top
    (4900, TaxRule(0, False, "Sales tax"), (0, 4900)),    # US
    (1, TaxRule(1900, True, "VAT"), (0, 1)),
    (0, TaxRule(1900, True, "VAT"), (0, 0)),
])
def test_split(amount, rule, expected):
    assert split(amount, rule) == expected


def test_inclusive_split_never_loses_a_cent():
    rule = TaxRule(1900, True, "VAT")
    for amount in range(0, 5000, 7):
        tax, total = split(amount, rule)
        assert total == amount and 0 <= tax < amount + 1
        net = total - tax
        assert abs(net * 1.19 - total) <= 0.6  # net is the nearest cent


def test_builtin_table_and_inclusive_countries():
    table = TaxTable.load("builtin")
    assert table.rule("de") == TaxRule(1900, True, "VAT")
    assert table.rule("GB").inclusive and table.rule("AU").label == "GST"
    assert not table.rule("US").inclusive and table.rule("US").rate_bp == 0
    assert table.rule("BR").rate_bp == 0  # not in the table: no tax
    assert TaxTable.load("none").rule("DE").rate_bp == 0


def test_json_table(tmp_path):
    path = tmp_path / "tax.json"
    path.write_text(json.dumps({"de": {"rate_bp": 700, "inclusive": True, "label": "MwSt"}}))
    assert TaxTable.load(str(path)).rule("DE") == TaxRule(700, True, "MwSt")
    path.write_text("{not json")
    with pytest.raises(InvalidInput):
        TaxTable.load(str(path))


@pytest.mark.parametrize("bad", ["", "D", "DEU", "1A", "ü1", None])
def test_country_must_be_iso(bad):
    with pytest.raises(InvalidInput):
        normalize_country(bad)


def test_negative_amount_is_refused():
    with pytest.raises(InvalidInput):
        split(-1, TaxRule(1900, True, "VAT"))
