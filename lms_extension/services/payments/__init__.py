"""Commerce: checkout, Stripe webhooks, reconciliation, refunds, invoices, payouts.

Every module takes a SQLAlchemy session and plain values; the Stripe-facing ones also take a
``stripe.StripeClient`` (real Stripe or the bundled test server, by configuration).
"""
