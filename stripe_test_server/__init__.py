"""A stateful Stripe-compatible test server (test infrastructure, kept apart from the product code)."""
