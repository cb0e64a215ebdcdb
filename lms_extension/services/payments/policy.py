"""Commerce settings, built once from ``LMSConfig`` and passed to the services."""
from __future__ import annotations

from dataclasses import dataclass

from .invoices import Seller
from .tax import TaxTable


@dataclass(frozen=True)
class CommercePolicy:
    platform_share_percent: int = 30
    refund_window_days: int = 30
    refund_max_progress_percent: int = 30
    payout_hold_days: int = 30
    seller: Seller = Seller("Jupyter LMS Demo", "1 Notebook Street;10115 Berlin;Germany", "")
    taxes: TaxTable = TaxTable({})
    plan_prices: tuple = (("monthly", 2900), ("yearly", 29000))
    plan_currency: str = "usd"

    @classmethod
    def from_config(cls, config) -> "CommercePolicy":
        if not 0 <= config.platform_share_percent <= 100:
            raise ValueError("LMS_PLATFORM_SHARE_PERCENT must be between 0 and 100")
        return cls(
            platform_share_percent=config.platform_share_percent,
            refund_window_days=config.refund_window_days,
            refund_max_progress_percent=config.refund_max_progress_percent,
            payout_hold_days=config.payout_hold_days,
            seller=Seller(config.seller_name, config.seller_address, config.seller_vat_id),
            taxes=TaxTable.load(config.tax_table),
            plan_prices=(("monthly", config.subscription_monthly_cents), ("yearly", config.subscription_yearly_cents)),
        )

    @property
    def plans(self) -> dict[str, int]:
        return dict(self.plan_prices)
