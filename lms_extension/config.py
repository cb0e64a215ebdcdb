"""LMS service configuration: traitlets with help text, defaults from ``LMS_*`` variables.

Built once at startup (``LMSConfig.from_env``) and never mutated per request.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from traitlets import Bool, Float, Integer, Unicode, default
from traitlets.config import Configurable

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, fallback: str) -> str:
    return os.environ.get(name) or fallback


class LMSConfig(Configurable):
    data_dir = Unicode(help="Folder for the SQLite database, uploads and student homes (LMS_DATA_DIR).").tag(config=True)
    db_url = Unicode(help="SQLAlchemy URL of the LMS database; SQLite under data_dir by default, "
                          "postgresql://... in production (LMS_DB_URL).").tag(config=True)
    service_prefix = Unicode(help="URL prefix of the service behind the proxy "
                                  "(JUPYTERHUB_SERVICE_PREFIX, default /services/lms/).").tag(config=True)
    bind_url = Unicode(help="Where the service listens (JUPYTERHUB_SERVICE_URL, default http://127.0.0.1:10101).").tag(config=True)
    hub_prefix = Unicode("/hub/", help="URL prefix of JupyterHub, for login and user-redirect links.").tag(config=True)
    courses_dir = Unicode(help="Folder of course folders imported in demo mode (LMS_COURSES_DIR).").tag(config=True)
    max_body_bytes = Integer(1024 * 1024, help="Largest request body accepted; larger ones get 413 (LMS_MAX_BODY_BYTES).").tag(config=True)
    cookie_secret = Unicode(help="Secret signing the service's cookies; every replica needs the same one "
                                 "(LMS_COOKIE_SECRET, else kept in data_dir/lms_cookie_secret).").tag(config=True)
    catalog_cache_seconds = Float(5.0, help="How long a catalog page may be served from this "
                                            "replica's cache (LMS_CATALOG_CACHE_SECONDS).").tag(config=True)
    worker_lease_seconds = Float(60.0, help="How long a grading worker's claim on a submission lasts; it "
                                            "renews it every third of that while grading, and a job whose "
                                            "worker died is taken over once it expires "
                                            "(LMS_WORKER_LEASE_SECONDS).").tag(config=True)
    worker_poll_seconds = Float(0.2, help="How often an idle grading worker looks for queued submissions "
                                          "(LMS_WORKER_POLL_SECONDS).").tag(config=True)
    demo = Bool(help="Demo mode: bundled courses, demo users and open signup (LMS_DEMO=1).").tag(config=True)
    idle_seconds = Float(300.0, help="Learning time between two activity heartbeats counts only when they are at "
                                     "most this many seconds apart; longer gaps were idle (LMS_IDLE_SECONDS).").tag(config=True)
    storage = Unicode(help="Where lesson resources and videos are kept: 'local' (a folder) or 's3' "
                           "(an S3-compatible bucket) (LMS_STORAGE, default local).").tag(config=True)
    storage_dir = Unicode(help="Folder of the local storage (LMS_STORAGE_DIR, default data_dir/storage).").tag(config=True)
    s3_bucket = Unicode(help="Bucket of the S3 storage (LMS_S3_BUCKET).").tag(config=True)
    s3_endpoint_url = Unicode(help="Endpoint of an S3-compatible server, empty for AWS (LMS_S3_ENDPOINT_URL). "
                                   "Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.").tag(config=True)
    s3_region = Unicode(help="Region of the S3 bucket (LMS_S3_REGION).").tag(config=True)
    s3_prefix = Unicode(help="Key prefix inside the S3 bucket (LMS_S3_PREFIX).").tag(config=True)
    # discovery (issue 7)
    review_min_progress = Float(help="Share of a course's lessons (0..1) a student must have opened before "
                                     "reviewing it (LMS_REVIEW_MIN_PROGRESS, default 0.2).").tag(config=True)
    recommender = Unicode(help="Content similarity for recommendations: 'tfidf' (default) or 'embeddings' "
                               "(needs the [embeddings] extra) (LMS_RECOMMENDER).").tag(config=True)
    recommendations_cache_seconds = Float(help="How long a replica reuses recommendations and the content "
                                               "model (LMS_RECOMMENDATIONS_CACHE_SECONDS, default 300).").tag(config=True)
    trending_half_life_days = Float(help="Half-life of an enrollment's or rating's weight in the trending "
                                         "score, in days (LMS_TRENDING_HALF_LIFE_DAYS, default 7).").tag(config=True)
    trending_refresh_seconds = Float(help="How often the service recomputes trending scores and enrollment "
                                          "counts; 0 turns it off (LMS_TRENDING_REFRESH_SECONDS, default 600).").tag(config=True)
    search_vocabulary_seconds = Float(help="How long a replica keeps the search vocabulary used for typo "
                                           "correction (LMS_SEARCH_VOCABULARY_SECONDS, default 60).").tag(config=True)
    check_schema = Bool(True, help="Refuse to start on a database whose schema revision is not the code's.").tag(config=True)
    redis_url = Unicode(help="Redis shared by all replicas for rate limits, e.g. redis://127.0.0.1:6379/0; empty: "
                             "limits are kept in each process (LMS_REDIS_URL).").tag(config=True)
    hub_auth_cache_seconds = Integer(help="How long the service trusts the hub's answer about a token or login "
                                          "cookie; a logout or revoked token takes effect within this time "
                                          "(LMS_HUB_AUTH_CACHE_SECONDS, default 5).").tag(config=True)
    redis_prefix = Unicode(help="Prefix of every Redis key the LMS writes (LMS_REDIS_PREFIX, default lms:).").tag(config=True)
    rate_limit_api_writes = Unicode(help="API writes (POST/PUT/PATCH/DELETE) allowed per user, as COUNT/SECONDS; "
                                         "0 turns it off (LMS_RATE_LIMIT_API_WRITES, default 300/60).").tag(config=True)
    rate_limit_quote = Unicode(help="Checkout price quotes allowed per client address, as COUNT/SECONDS "
                                    "(LMS_RATE_LIMIT_QUOTE, default 30/60).").tag(config=True)
    rate_limit_checkout = Unicode(help="Checkout sessions a user may start, as COUNT/SECONDS "
                                       "(LMS_RATE_LIMIT_CHECKOUT, default 10/60).").tag(config=True)
    rate_limit_code_runs = Unicode(help="Code runs (Judge0 API, challenge runs) a user may start, as COUNT/SECONDS "
                                        "(LMS_RATE_LIMIT_CODE_RUNS, default 120/60).").tag(config=True)

    # commerce (issue 5): Stripe through the official SDK; the API base decides real or test server
    stripe_api_base = Unicode(help="Base URL of the Stripe API: https://api.stripe.com for real Stripe (the "
                                   "default), the bundled test server's URL in demo mode; outside demo mode a test "
                                   "server runs only when named here (LMS_STRIPE_API_BASE).").tag(config=True)
    stripe_secret_key = Unicode(help="Stripe secret key, sk_test_... or sk_live_...; environment only "
                                     "(LMS_STRIPE_SECRET_KEY).").tag(config=True)
    stripe_webhook_secret = Unicode(help="Signing secret (whsec_...) of the webhook endpoint "
                                         "/services/lms/api/v1/payments/webhook (LMS_STRIPE_WEBHOOK_SECRET).").tag(config=True)
    public_url = Unicode(help="Public base URL of the platform: every absolute link (certificates, badges, "
                              "invoices, OpenGraph, Stripe's success/cancel/return links) starts with it, never "
                              "with the request's Host header (LMS_PUBLIC_URL, default "
                              "http://127.0.0.1:$LMS_PORT).").tag(config=True)
    platform_share_percent = Integer(30, help="Percent of each sale (tax excluded) the platform keeps; instructors "
                                              "get the rest unless their account says otherwise (LMS_PLATFORM_SHARE_PERCENT).").tag(config=True)
    refund_window_days = Integer(30, help="Days after purchase a student may ask for a refund (LMS_REFUND_WINDOW_DAYS).").tag(config=True)
    refund_max_progress_percent = Integer(30, help="A refund may be asked only below this percent of the course "
                                                   "completed (LMS_REFUND_MAX_PROGRESS_PERCENT).").tag(config=True)
    payout_hold_days = Integer(help="Days earnings stay pending before a payout may include them; defaults to the "
                                    "refund window (LMS_PAYOUT_HOLD_DAYS).").tag(config=True)
    seller_name = Unicode(help="Seller name printed on invoices (LMS_SELLER_NAME).").tag(config=True)
    seller_address = Unicode(help="Seller address printed on invoices, lines separated by ';' (LMS_SELLER_ADDRESS).").tag(config=True)
    seller_vat_id = Unicode(help="Seller VAT/GST id printed on invoices (LMS_SELLER_VAT_ID).").tag(config=True)
    tax_table = Unicode(help="VAT/GST rates by buyer country: 'builtin' (EU, UK, AU, NZ, ...), 'none' (no tax), or "
                             "the path of a JSON file {country: {rate_bp, inclusive, label}} (LMS_TAX_TABLE).").tag(config=True)
    subscription_monthly_cents = Integer(2900, help="Price of the monthly all-access plan in cents "
                                                    "(LMS_SUBSCRIPTION_MONTHLY_CENTS).").tag(config=True)
    subscription_yearly_cents = Integer(29000, help="Price of the yearly all-access plan in cents "
                                                    "(LMS_SUBSCRIPTION_YEARLY_CENTS).").tag(config=True)
    reconcile_interval_seconds = Integer(600, help="How often `lms worker` reconciles payments with Stripe; 0 "
                                                   "turns it off (LMS_RECONCILE_INTERVAL_SECONDS).").tag(config=True)

    @default("data_dir")
    def _data_dir(self):
        return _env("LMS_DATA_DIR", str(REPO_ROOT / ".lms-data"))

    @default("db_url")
    def _db_url(self):
        return _env("LMS_DB_URL", f"sqlite:///{Path(self.data_dir).resolve() / 'lms.sqlite'}")

    @default("service_prefix")
    def _service_prefix(self):
        return _env("JUPYTERHUB_SERVICE_PREFIX", "/services/lms/")

    @default("bind_url")
    def _bind_url(self):
        return _env("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101")

    @default("courses_dir")
    def _courses_dir(self):
        return _env("LMS_COURSES_DIR", str(REPO_ROOT / "courses"))

    @default("max_body_bytes")
    def _max_body(self):
        return int(_env("LMS_MAX_BODY_BYTES", str(1024 * 1024)))

    @default("cookie_secret")
    def _cookie_secret(self):
        if os.environ.get("LMS_COOKIE_SECRET"):
            return os.environ["LMS_COOKIE_SECRET"]
        path = Path(self.data_dir) / "lms_cookie_secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(32))
        return path.read_text().strip()

    @default("catalog_cache_seconds")
    def _catalog_cache_seconds(self):
        return float(_env("LMS_CATALOG_CACHE_SECONDS", "5"))

    @default("worker_lease_seconds")
    def _worker_lease_seconds(self):
        return float(_env("LMS_WORKER_LEASE_SECONDS", "60"))

    @default("worker_poll_seconds")
    def _worker_poll_seconds(self):
        return float(_env("LMS_WORKER_POLL_SECONDS", "0.2"))

    @default("idle_seconds")
    def _idle_seconds(self):
        return float(_env("LMS_IDLE_SECONDS", "300"))

    @default("storage")
    def _storage(self):
        return _env("LMS_STORAGE", "local")

    @default("storage_dir")
    def _storage_dir(self):
        return _env("LMS_STORAGE_DIR", str(Path(self.data_dir) / "storage"))

    @default("s3_bucket")
    def _s3_bucket(self):
        return _env("LMS_S3_BUCKET", "")

    @default("s3_endpoint_url")
    def _s3_endpoint_url(self):
        return _env("LMS_S3_ENDPOINT_URL", "")

    @default("s3_region")
    def _s3_region(self):
        return _env("LMS_S3_REGION", "")

    @default("s3_prefix")
    def _s3_prefix(self):
        return _env("LMS_S3_PREFIX", "")

    @default("demo")
    def _demo(self):
        return _env("LMS_DEMO", "1") == "1"

    @default("review_min_progress")
    def _review_min_progress(self):
        return float(_env("LMS_REVIEW_MIN_PROGRESS", "0.2"))

    @default("recommender")
    def _recommender(self):
        return _env("LMS_RECOMMENDER", "tfidf")

    @default("recommendations_cache_seconds")
    def _recommendations_cache_seconds(self):
        return float(_env("LMS_RECOMMENDATIONS_CACHE_SECONDS", "300"))

    @default("trending_half_life_days")
    def _trending_half_life_days(self):
        return float(_env("LMS_TRENDING_HALF_LIFE_DAYS", "7"))

    @default("trending_refresh_seconds")
    def _trending_refresh_seconds(self):
        return float(_env("LMS_TRENDING_REFRESH_SECONDS", "600"))

    @default("search_vocabulary_seconds")
    def _search_vocabulary_seconds(self):
        return float(_env("LMS_SEARCH_VOCABULARY_SECONDS", "60"))

    @default("redis_url")
    def _redis_url(self):
        return _env("LMS_REDIS_URL", "")

    @default("hub_auth_cache_seconds")
    def _hub_auth_cache_seconds(self):
        return int(_env("LMS_HUB_AUTH_CACHE_SECONDS", "5"))

    @default("redis_prefix")
    def _redis_prefix(self):
        return _env("LMS_REDIS_PREFIX", "lms:")

    @default("rate_limit_api_writes")
    def _rate_limit_api_writes(self):
        return _env("LMS_RATE_LIMIT_API_WRITES", "300/60")

    @default("rate_limit_quote")
    def _rate_limit_quote(self):
        return _env("LMS_RATE_LIMIT_QUOTE", "30/60")

    @default("rate_limit_checkout")
    def _rate_limit_checkout(self):
        return _env("LMS_RATE_LIMIT_CHECKOUT", "10/60")

    @default("rate_limit_code_runs")
    def _rate_limit_code_runs(self):
        return _env("LMS_RATE_LIMIT_CODE_RUNS", "120/60")

    @default("stripe_api_base")
    def _stripe_api_base(self):
        return _env("LMS_STRIPE_API_BASE", "https://api.stripe.com")

    @default("stripe_secret_key")
    def _stripe_secret_key(self):
        return _env("LMS_STRIPE_SECRET_KEY", "")

    @default("stripe_webhook_secret")
    def _stripe_webhook_secret(self):
        return _env("LMS_STRIPE_WEBHOOK_SECRET", "")

    @default("public_url")
    def _public_url(self):
        return _env("LMS_PUBLIC_URL", f"http://127.0.0.1:{_env('LMS_PORT', '8000')}").rstrip("/")

    @default("platform_share_percent")
    def _platform_share_percent(self):
        return int(_env("LMS_PLATFORM_SHARE_PERCENT", "30"))

    @default("refund_window_days")
    def _refund_window_days(self):
        return int(_env("LMS_REFUND_WINDOW_DAYS", "30"))

    @default("refund_max_progress_percent")
    def _refund_max_progress_percent(self):
        return int(_env("LMS_REFUND_MAX_PROGRESS_PERCENT", "30"))

    @default("payout_hold_days")
    def _payout_hold_days(self):
        return int(_env("LMS_PAYOUT_HOLD_DAYS", str(self.refund_window_days)))

    @default("seller_name")
    def _seller_name(self):
        return _env("LMS_SELLER_NAME", "Jupyter LMS Demo")

    @default("seller_address")
    def _seller_address(self):
        return _env("LMS_SELLER_ADDRESS", "1 Notebook Street;10115 Berlin;Germany")

    @default("seller_vat_id")
    def _seller_vat_id(self):
        return _env("LMS_SELLER_VAT_ID", "")

    @default("tax_table")
    def _tax_table(self):
        return _env("LMS_TAX_TABLE", "builtin")

    @default("subscription_monthly_cents")
    def _subscription_monthly_cents(self):
        return int(_env("LMS_SUBSCRIPTION_MONTHLY_CENTS", "2900"))

    @default("subscription_yearly_cents")
    def _subscription_yearly_cents(self):
        return int(_env("LMS_SUBSCRIPTION_YEARLY_CENTS", "29000"))

    @default("reconcile_interval_seconds")
    def _reconcile_interval_seconds(self):
        return int(_env("LMS_RECONCILE_INTERVAL_SECONDS", "600"))
