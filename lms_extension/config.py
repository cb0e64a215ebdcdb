"""The one configuration of Jupyter LMS: the service, the worker, the ``lms`` command and the
hub's configuration (``hub_config/settings.py``) all read an ``LMSConfig``.

Built once at start-up, then frozen (``freeze()``): every start-up path (the ``lms`` command,
``hub_settings.load``, ``make_app``) freezes the object it loaded and hands that one object
down, and assigning a setting afterwards raises ``SettingsFrozen``. A value comes from, last
one winning: the trait's default, the optional config file (traitlets Python config,
``c.LMSConfig.name = ...``; ``LMS_CONFIG_FILE``, else ``lms_config.py`` in the data folder), the
environment variable named in ``ENV``. ``lms config show`` prints the result and where each
value came from.

Each default is written once, here: code outside the service that needs one (the student
server's extension, the hub's spawners) reads the trait's ``default_value``, e.g.
``LMSConfig.heartbeat_seconds.default_value``.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from traitlets import Bool, Enum, Float, Integer, TraitError, Unicode, default, validate
from traitlets.config import Application, Config, PyFileConfigLoader

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE_NAME = "lms_config.py"

# trait -> environment variable: the one place these names are written; ``lms config show``,
# the hub's settings and the README check (tests/test_docs.py) read it.
ENV = {
    "config_file": "LMS_CONFIG_FILE",
    "data_dir": "LMS_DATA_DIR",
    "db_url": "LMS_DB_URL",
    "demo": "LMS_DEMO",
    "courses_dir": "LMS_COURSES_DIR",
    "port": "LMS_PORT",
    "public_url": "LMS_PUBLIC_URL",
    # hub
    "hub_port": "LMS_HUB_PORT",
    "proxy_api_port": "LMS_PROXY_API_PORT",
    "service_port": "LMS_SERVICE_PORT",
    "hub_db_url": "LMS_HUB_DB_URL",
    "admin_token": "LMS_ADMIN_TOKEN",
    "demo_password": "LMS_DEMO_PASSWORD",
    "open_signup": "LMS_OPEN_SIGNUP",
    "allow_2fa": "LMS_ALLOW_2FA",
    "require_2fa": "LMS_REQUIRE_2FA",
    "login_failures_per_user": "LMS_LOGIN_FAILURES_PER_USER",
    "login_failures_per_address": "LMS_LOGIN_FAILURES_PER_ADDRESS",
    "email_requests_per_address": "LMS_EMAIL_REQUESTS_PER_ADDRESS",
    # student servers
    "spawner": "LMS_SPAWNER",
    "mem_limit": "LMS_MEM_LIMIT",
    "cpu_limit": "LMS_CPU_LIMIT",
    "disk_limit": "LMS_DISK_LIMIT",
    "student_egress": "LMS_STUDENT_EGRESS",
    "docker_image": "LMS_DOCKER_IMAGE",
    "heartbeat_seconds": "LMS_HEARTBEAT_SECONDS",
    "kernel_cull_seconds": "LMS_KERNEL_CULL_SECONDS",
    "k8s_storage_class": "LMS_K8S_STORAGE_CLASS",
    "k8s_storage_capacity": "LMS_K8S_STORAGE_CAPACITY",
    "k8s_mem_guarantee": "LMS_K8S_MEM_GUARANTEE",
    "k8s_cpu_guarantee": "LMS_K8S_CPU_GUARANTEE",
    # the service (JupyterHub sets these two for the services it starts)
    "service_prefix": "JUPYTERHUB_SERVICE_PREFIX",
    "bind_url": "JUPYTERHUB_SERVICE_URL",
    "cookie_secret": "LMS_COOKIE_SECRET",
    "max_body_bytes": "LMS_MAX_BODY_BYTES",
    "git_import_allow_local": "LMS_GIT_IMPORT_ALLOW_LOCAL",
    "hub_auth_cache_seconds": "LMS_HUB_AUTH_CACHE_SECONDS",
    "catalog_cache_seconds": "LMS_CATALOG_CACHE_SECONDS",
    "idle_seconds": "LMS_IDLE_SECONDS",
    "worker_lease_seconds": "LMS_WORKER_LEASE_SECONDS",
    "worker_poll_seconds": "LMS_WORKER_POLL_SECONDS",
    "redis_url": "LMS_REDIS_URL",
    "redis_prefix": "LMS_REDIS_PREFIX",
    "rate_limit_api_writes": "LMS_RATE_LIMIT_API_WRITES",
    "rate_limit_quote": "LMS_RATE_LIMIT_QUOTE",
    "rate_limit_checkout": "LMS_RATE_LIMIT_CHECKOUT",
    "rate_limit_code_runs": "LMS_RATE_LIMIT_CODE_RUNS",
    "rate_limit_messages": "LMS_RATE_LIMIT_MESSAGES",
    "forum_new_account_days": "LMS_FORUM_NEW_ACCOUNT_DAYS",
    "forum_new_account_posts_per_hour": "LMS_FORUM_NEW_ACCOUNT_POSTS_PER_HOUR",
    # storage
    "storage": "LMS_STORAGE",
    "storage_dir": "LMS_STORAGE_DIR",
    "s3_bucket": "LMS_S3_BUCKET",
    "s3_endpoint_url": "LMS_S3_ENDPOINT_URL",
    "s3_region": "LMS_S3_REGION",
    "s3_prefix": "LMS_S3_PREFIX",
    "s3_access_key_id": "LMS_S3_ACCESS_KEY_ID",
    "s3_secret_access_key": "LMS_S3_SECRET_ACCESS_KEY",
    # discovery
    "review_min_progress": "LMS_REVIEW_MIN_PROGRESS",
    "recommender": "LMS_RECOMMENDER",
    "recommendations_cache_seconds": "LMS_RECOMMENDATIONS_CACHE_SECONDS",
    "trending_half_life_days": "LMS_TRENDING_HALF_LIFE_DAYS",
    "trending_refresh_seconds": "LMS_TRENDING_REFRESH_SECONDS",
    "analytics_refresh_seconds": "LMS_ANALYTICS_REFRESH_SECONDS",
    "wishlist_delivery_seconds": "LMS_WISHLIST_DELIVERY_SECONDS",
    "search_vocabulary_seconds": "LMS_SEARCH_VOCABULARY_SECONDS",
    # commerce
    "stripe_api_base": "LMS_STRIPE_API_BASE",
    "stripe_secret_key": "LMS_STRIPE_SECRET_KEY",
    "stripe_webhook_secret": "LMS_STRIPE_WEBHOOK_SECRET",
    "stripe_test_port": "LMS_STRIPE_TEST_PORT",
    "platform_share_percent": "LMS_PLATFORM_SHARE_PERCENT",
    "refund_window_days": "LMS_REFUND_WINDOW_DAYS",
    "refund_max_progress_percent": "LMS_REFUND_MAX_PROGRESS_PERCENT",
    "payout_hold_days": "LMS_PAYOUT_HOLD_DAYS",
    "seller_name": "LMS_SELLER_NAME",
    "seller_address": "LMS_SELLER_ADDRESS",
    "seller_vat_id": "LMS_SELLER_VAT_ID",
    "tax_table": "LMS_TAX_TABLE",
    "subscription_monthly_cents": "LMS_SUBSCRIPTION_MONTHLY_CENTS",
    "subscription_yearly_cents": "LMS_SUBSCRIPTION_YEARLY_CENTS",
    "reconcile_interval_seconds": "LMS_RECONCILE_INTERVAL_SECONDS",
    "checkout_expiry_seconds": "LMS_CHECKOUT_EXPIRY_SECONDS",
    "judge0_expiry_seconds": "LMS_JUDGE0_EXPIRY_SECONDS",
    # email
    "smtp_host": "LMS_SMTP_HOST",
    "smtp_port": "LMS_SMTP_PORT",
    "smtp_user": "LMS_SMTP_USER",
    "smtp_password": "LMS_SMTP_PASSWORD",
    "smtp_from": "LMS_SMTP_FROM",
    "smtp_starttls": "LMS_SMTP_STARTTLS",
    "smtp_timeout_seconds": "LMS_SMTP_TIMEOUT_SECONDS",
    "mail_batch_size": "LMS_MAIL_BATCH_SIZE",
    "mail_lease_seconds": "LMS_MAIL_LEASE_SECONDS",
    "mail_max_attempts": "LMS_MAIL_MAX_ATTEMPTS",
    "mail_retry_seconds": "LMS_MAIL_RETRY_SECONDS",
    "mail_connections": "LMS_MAIL_CONNECTIONS",
    # web push
    "vapid_private_key": "LMS_VAPID_PRIVATE_KEY",
    "vapid_public_key": "LMS_VAPID_PUBLIC_KEY",
    "vapid_subject": "LMS_VAPID_SUBJECT",
    "push_allow_local": "LMS_PUSH_ALLOW_LOCAL",
    "push_timeout_seconds": "LMS_PUSH_TIMEOUT_SECONDS",
    "push_max_attempts": "LMS_PUSH_MAX_ATTEMPTS",
    "push_retry_seconds": "LMS_PUSH_RETRY_SECONDS",
    "deadline_reminder_seconds": "LMS_DEADLINE_REMINDER_SECONDS",
    "digest_seconds": "LMS_DIGEST_SECONDS",
    "digest_hour_utc": "LMS_DIGEST_HOUR_UTC",
    "forum_answer_target_hours": "LMS_FORUM_ANSWER_TARGET_HOURS",
}
# values `lms config show` never prints; URLs in URL_SECRETS lose only their password
SECRETS = {"admin_token", "demo_password", "cookie_secret", "s3_secret_access_key", "stripe_secret_key",
           "stripe_webhook_secret", "smtp_password",
           "vapid_private_key"}
URL_SECRETS = {"db_url", "hub_db_url", "redis_url"}


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable or file."""


class SettingsFrozen(AttributeError):
    """A setting was assigned after start-up, when the configuration is read-only."""


class LMSConfig(Application):
    name = "lms"
    description = "Jupyter LMS settings"

    config_file = Unicode(help="Python config file read at start-up (traitlets: c.LMSConfig.name = value); "
                               "default: lms_config.py in the data folder, when it exists.").tag(config=True)
    data_dir = Unicode(str(REPO_ROOT / ".lms-data"),
                       help="Folder for the SQLite databases, uploads, secrets and student homes.").tag(config=True)
    db_url = Unicode(help="SQLAlchemy URL of the LMS database; SQLite under data_dir by default, "
                          "postgresql://... in production.").tag(config=True)
    demo = Bool(True,
                help="Demo mode: bundled courses, demo users, open signup, the Stripe test server.").tag(config=True)
    courses_dir = Unicode(str(REPO_ROOT / "courses"),
                          help="Folder of course folders imported in demo mode.").tag(config=True)
    port = Integer(8000, help="Public port of the proxy (bound to 127.0.0.1).").tag(config=True)
    public_url = Unicode(help="Public base URL of the platform: every absolute link (certificates, badges, "
                              "invoices, OpenGraph, Stripe's success/cancel/return links) starts with it, never "
                              "with the request's Host header; default http://127.0.0.1:<port>.").tag(config=True)

    hub_port = Integer(8081, help="JupyterHub's own port.").tag(config=True)
    proxy_api_port = Integer(8001, help="The proxy's REST API port.").tag(config=True)
    service_port = Integer(10101, help="Port of the LMS service.").tag(config=True)
    hub_db_url = Unicode(help="JupyterHub's database; default SQLite under data_dir.").tag(config=True)
    admin_token = Unicode(help="When set, a hub API token with operator scopes (scripts, tests).").tag(config=True)
    demo_password = Unicode(help="Password of the demo users; default: generated once and kept in "
                                 "data_dir/demo-password.").tag(config=True)
    open_signup = Bool(help="New sign-ups log in at once; off: they wait for an admin's approval. "
                            "Default: on in demo mode.").tag(config=True)
    allow_2fa = Bool(True, help="Let users turn on two-factor authentication at sign-up.").tag(config=True)
    require_2fa = Bool(False, help="Instructors and admins cannot log in without two-factor "
                                   "authentication.").tag(config=True)
    login_failures_per_user = Unicode("5/900", help="Failed logins allowed per username, as COUNT/SECONDS "
                                                    "(0: no limit).").tag(config=True)
    login_failures_per_address = Unicode("50/900", help="Failed logins allowed per client address, as "
                                                        "COUNT/SECONDS (0: no limit).").tag(config=True)
    email_requests_per_address = Unicode("20/3600", help="Password-reset requests (and reset-form submissions) "
                                                         "the hub accepts per client address, as COUNT/SECONDS "
                                                         "(0: no limit); each account also gets at most 3 reset "
                                                         "emails an hour.").tag(config=True)

    spawner = Enum(["auto", "sandbox", "docker", "kubernetes"], "auto",
                   help="How student servers run: auto, sandbox, docker or kubernetes.").tag(config=True)
    mem_limit = Unicode("1G",
                        help="Memory limit of a student's server (bytes, K, M, G; 0 or none: no limit).").tag(config=True)
    cpu_limit = Float(1.0, help="CPU limit of a student's server, in cores (0: no limit).").tag(config=True)
    disk_limit = Unicode("2G",
                         help="Size of each student's home (hub_config/homes.py); 0 or none: no limit.").tag(config=True)
    student_egress = Enum(["none", "internet"], "none",
                          help="none: a student's server reaches only the hub and the LMS; internet: also "
                               "public addresses through a filtering proxy.").tag(config=True)
    docker_image = Unicode("jupyter-lms/student:latest", help="Student image of the docker and kubernetes "
                                                              "spawners.").tag(config=True)
    heartbeat_seconds = Float(60.0, help="How often a student's server reports activity on open lesson "
                                         "notebooks (0: never); passed to the student servers.").tag(config=True)
    kernel_cull_seconds = Integer(1200, help="A student's kernel with no activity for this many seconds is shut "
                                             "down, even with its notebook open in a tab (never while it runs "
                                             "code), so lessons left open do not pile up kernels under the "
                                             "memory limit; 0: never. Passed to the student servers.").tag(config=True)
    k8s_storage_class = Unicode(help="StorageClass of the home claims; empty: the cluster's default.").tag(config=True)
    k8s_storage_capacity = Unicode(help="Size of a home claim; empty: disk_limit (10Gi when that is "
                                        "unlimited).").tag(config=True)
    k8s_mem_guarantee = Unicode(
                                help="Memory guarantee of a student pod; empty: half the memory limit.").tag(config=True)
    k8s_cpu_guarantee = Unicode(
                                help="CPU guarantee of a student pod; empty: a quarter of the CPU limit.").tag(config=True)

    service_prefix = Unicode("/services/lms/", help="URL prefix of the service behind the proxy.").tag(config=True)
    bind_url = Unicode(help="Where the service listens; default http://127.0.0.1:<service_port>.").tag(config=True)
    hub_prefix = Unicode("/hub/", help="URL prefix of JupyterHub, for login and user-redirect links.").tag(config=True)
    cookie_secret = Unicode(help="Secret signing the service's cookies; every replica needs the same one. "
                                 "Default: generated once and kept in data_dir/lms_cookie_secret.").tag(config=True)
    max_body_bytes = Integer(1024 * 1024, help="Largest request body accepted; larger ones get 413.").tag(config=True)
    git_import_allow_local = Bool(False, help="Let instructors pull courses from plain http:// git URLs and from hosts "
                                              "on loopback or private networks (tests, closed campus networks). Off: "
                                              "https:// to public addresses only.").tag(config=True)
    hub_auth_cache_seconds = Integer(5, help="How long the service trusts the hub's answer about a token or login "
                                             "cookie; a logout or revoked token takes effect within this "
                                             "time.").tag(config=True)
    catalog_cache_seconds = Float(5.0, help="How long a catalog page may be served from this replica's "
                                            "cache.").tag(config=True)
    idle_seconds = Float(300.0, help="Learning time between two activity heartbeats counts only when they are at "
                                     "most this many seconds apart; longer gaps were idle.").tag(config=True)
    worker_lease_seconds = Float(60.0, help="How long a grading worker's claim on a submission lasts; it renews "
                                            "it every third of that while grading, and a job whose worker died "
                                            "is taken over once it expires.").tag(config=True)
    worker_poll_seconds = Float(0.2, help="How often an idle grading worker looks for queued "
                                          "submissions.").tag(config=True)
    check_schema = Bool(True, help="Refuse to start on a database whose schema revision is not the "
                                   "code's.").tag(config=True)
    redis_url = Unicode(help="Redis shared by all replicas for rate limits and the login throttle, e.g. "
                             "redis://127.0.0.1:6379/0; empty: limits are kept in each process.").tag(config=True)
    redis_prefix = Unicode("lms:", help="Prefix of every Redis key the LMS writes.").tag(config=True)
    rate_limit_api_writes = Unicode("300/60", help="API writes (POST/PUT/PATCH/DELETE) allowed per user, as "
                                                   "COUNT/SECONDS; 0 turns it off.").tag(config=True)
    rate_limit_quote = Unicode("30/60", help="Checkout price quotes allowed per client address, as "
                                             "COUNT/SECONDS.").tag(config=True)
    rate_limit_checkout = Unicode("10/60",
                                  help="Checkout sessions a user may start, as COUNT/SECONDS.").tag(config=True)
    rate_limit_code_runs = Unicode("120/60", help="Code runs (Judge0 API, challenge runs) a user may start, as "
                                                  "COUNT/SECONDS.").tag(config=True)
    rate_limit_messages = Unicode("30/300", help="Direct messages a user may send (new conversations and "
                                                 "replies), as COUNT/SECONDS; 0: no limit.").tag(config=True)
    forum_new_account_days = Integer(7, min=0, help="An account the LMS first saw fewer than this many days ago "
                                                    "is new: its course Q&A posts are rate-limited "
                                                    "(forum_new_account_posts_per_hour).").tag(config=True)
    forum_new_account_posts_per_hour = Integer(10, min=0, help="Threads and replies a new account (see "
                                                               "forum_new_account_days) may post per hour in the "
                                                               "course Q&A, over all courses (and as many "
                                                               "reports of posts); a course's staff are never "
                                                               "limited; 0: no limit.").tag(config=True)

    storage = Enum(["local", "s3"], "local", help="Where lesson resources and videos are kept: 'local' (a folder) "
                                                  "or 's3' (an S3-compatible bucket).").tag(config=True)
    storage_dir = Unicode(help="Folder of the local storage; default data_dir/storage.").tag(config=True)
    s3_bucket = Unicode(help="Bucket of the S3 storage.").tag(config=True)
    s3_endpoint_url = Unicode(help="Endpoint of an S3-compatible server, empty for AWS.").tag(config=True)
    s3_region = Unicode(help="Region of the S3 bucket.").tag(config=True)
    s3_prefix = Unicode(help="Key prefix inside the S3 bucket.").tag(config=True)
    s3_access_key_id = Unicode(help="S3 access key; empty: boto3's own sources (AWS_* variables, "
                                    "instance roles).").tag(config=True)
    s3_secret_access_key = Unicode(help="S3 secret key, with s3_access_key_id.").tag(config=True)

    review_min_progress = Float(0.2, help="Share of a course's lessons (0..1) a student must have opened before "
                                          "reviewing it.").tag(config=True)
    recommender = Enum(["tfidf", "embeddings"], "tfidf",
                       help="Content similarity for recommendations: 'tfidf' or 'embeddings' (needs the "
                            "[embeddings] extra).").tag(config=True)
    recommendations_cache_seconds = Float(300.0, help="How long a replica reuses recommendations and the content "
                                                      "model.").tag(config=True)
    trending_half_life_days = Float(7.0, help="Half-life of an enrollment's or rating's weight in the trending "
                                              "score, in days.").tag(config=True)
    trending_refresh_seconds = Float(600.0, help="How often the trending scores and enrollment counts are "
                                                 "recomputed; 0 turns it off.").tag(config=True)
    analytics_refresh_seconds = Float(900.0, help="How often `lms worker` recomputes the course analytics and "
                                                  "growth reports the analytics pages show; 0 turns it "
                                                  "off.").tag(config=True)
    wishlist_delivery_seconds = Float(60.0, help="How often `lms worker` turns stored wishlist events (a "
                                                 "price drop, a coupon) into notifications; 0 turns it "
                                                 "off.").tag(config=True)
    search_vocabulary_seconds = Float(60.0, help="How long a replica keeps the search vocabulary used for typo "
                                                 "correction.").tag(config=True)

    stripe_api_base = Unicode("https://api.stripe.com",
                              help="Base URL of the Stripe API: https://api.stripe.com for real Stripe (the "
                                   "default), the bundled test server's URL in demo mode; outside demo mode a test "
                                   "server runs only when named here.").tag(config=True)
    stripe_secret_key = Unicode(help="Stripe secret key, sk_test_... or sk_live_....").tag(config=True)
    stripe_webhook_secret = Unicode(help="Signing secret (whsec_...) of the webhook endpoint "
                                         "/services/lms/api/v1/payments/webhook.").tag(config=True)
    stripe_test_port = Integer(0, help="Port of the bundled Stripe test server in demo mode; 0: 12111 when free, "
                                       "else a free port.").tag(config=True)
    platform_share_percent = Integer(30, min=0, max=100, help="Percent of each sale (tax excluded) the platform "
                                                              "keeps; instructors get the rest unless their account "
                                                              "says otherwise.").tag(config=True)
    refund_window_days = Integer(30, help="Days after purchase a student may ask for a refund.").tag(config=True)
    refund_max_progress_percent = Integer(30, help="A refund may be asked only below this percent of the course "
                                                   "completed.").tag(config=True)
    payout_hold_days = Integer(help="Days earnings stay pending before a payout may include them; default: the "
                                    "refund window.").tag(config=True)
    seller_name = Unicode("Jupyter LMS Demo", help="Seller name printed on invoices.").tag(config=True)
    seller_address = Unicode("1 Notebook Street;10115 Berlin;Germany",
                             help="Seller address printed on invoices, lines separated by ';'.").tag(config=True)
    seller_vat_id = Unicode(help="Seller VAT/GST id printed on invoices.").tag(config=True)
    tax_table = Unicode("builtin", help="VAT/GST rates by buyer country: 'builtin' (EU, UK, AU, NZ, ...), 'none' "
                                        "(no tax), or the path of a JSON file {country: {rate_bp, inclusive, "
                                        "label}}.").tag(config=True)
    subscription_monthly_cents = Integer(2900, help="Price of the monthly all-access plan in cents.").tag(config=True)
    subscription_yearly_cents = Integer(29000, help="Price of the yearly all-access plan in cents.").tag(config=True)
    reconcile_interval_seconds = Integer(600, help="How often `lms worker` reconciles payments with Stripe; 0 "
                                                   "turns it off.").tag(config=True)
    checkout_expiry_seconds = Integer(300, help="How often `lms worker` closes checkouts abandoned past their "
                                                "Stripe session's lifetime and gives their coupon uses back; 0 "
                                                "turns it off.").tag(config=True)
    judge0_expiry_seconds = Integer(3600, help="How often `lms worker` deletes Judge0 submissions older than "
                                               "their time to live (24 hours); 0 turns it off.").tag(config=True)

    smtp_host = Unicode(help="SMTP server through which `lms worker` sends email; empty: emails wait in the "
                             "outbox (nothing is lost) until a worker has a server.").tag(config=True)
    smtp_port = Integer(587, help="Port of the SMTP server (587: submission with STARTTLS).").tag(config=True)
    smtp_user = Unicode(help="SMTP login (AUTH); empty: no login.").tag(config=True)
    smtp_password = Unicode(help="SMTP password, with smtp_user (secret: environment or config file "
                                 "only).").tag(config=True)
    smtp_from = Unicode("Jupyter LMS <noreply@localhost>", help="From address of every email, e.g. "
                                                                "'Jupyter LMS <noreply@example.org>'; its domain "
                                                                "also ends each Message-ID.").tag(config=True)
    smtp_starttls = Bool(True, help="Upgrade the SMTP connection with STARTTLS (certificate checked) before "
                                    "logging in or sending; off only for a local relay.").tag(config=True)
    smtp_timeout_seconds = Float(20.0, help="How long one SMTP command may take before the attempt counts as a "
                                            "temporary failure.").tag(config=True)
    mail_batch_size = Integer(50, min=1, help="Emails a worker claims at once and sends over one SMTP "
                                              "connection.").tag(config=True)
    mail_lease_seconds = Float(120.0, help="How long a worker's claim on a batch of emails lasts; a batch whose "
                                           "worker died is sent by another worker once it expires. Keep it above "
                                           "three SMTP timeouts.").tag(config=True)
    mail_max_attempts = Integer(8, min=1, help="Temporary failures (server down, 4xx) after which an email is "
                                               "given up as dead.").tag(config=True)
    mail_retry_seconds = Float(30.0, help="Wait after an email's first temporary failure; doubled after each "
                                          "further one (at most 6 hours).").tag(config=True)
    mail_connections = Integer(1, min=1, max=32, help="SMTP connections each `lms worker` sends over at once, "
                               "each with its own batches: more is faster for a class-wide announcement "
                               "(one connection waits on every reply), but a worker killed at the wrong "
                               "moment is likelier to leave an email in doubt (see SECURITY.md).").tag(config=True)
    vapid_private_key = Unicode(help="VAPID private key that signs web pushes (RFC 8292): the P-256 private "
                                     "number, base64url (as `vapid --gen` or web-push tools print it). Every "
                                     "replica and worker needs the same one: browsers subscribed with its public "
                                     "key. Default: generated once and kept in "
                                     "data_dir/lms_vapid_private_key.").tag(config=True)
    vapid_public_key = Unicode(help="VAPID public key that browsers subscribe with (uncompressed P-256 point, "
                                    "base64url); default: derived from vapid_private_key, and refused at start-up "
                                    "when it is not that key's.").tag(config=True)
    vapid_subject = Unicode(help="Contact that push services see in each push (the VAPID 'sub' claim): a "
                                 "mailto: or https: URL; default: mailto: with smtp_from's "
                                 "address.").tag(config=True)
    push_allow_local = Bool(False, help="Accept push subscriptions whose endpoint is plain http:// or on a "
                                        "loopback or private network (tests, closed networks). Off: https:// "
                                        "to public addresses only, checked again before each "
                                        "push.").tag(config=True)
    push_timeout_seconds = Float(10.0, help="How long a push service may take to answer before the attempt "
                                            "counts as a temporary failure.").tag(config=True)
    push_max_attempts = Integer(6, min=1, help="Temporary failures (5xx, 429, timeouts) after which a push is "
                                               "given up as dead.").tag(config=True)
    push_retry_seconds = Float(30.0, help="Wait after a push's first temporary failure; doubled after each "
                                          "further one (at most 6 hours).").tag(config=True)
    deadline_reminder_seconds = Float(900.0, help="How often `lms worker` looks for students whose own deadline "
                                                  "(an extension included) is less than 24 hours away with the "
                                                  "work not handed in, and tells each once per deadline; 0 turns "
                                                  "it off.").tag(config=True)
    digest_seconds = Float(900.0, help="How often `lms worker` looks for daily and weekly digest emails that are "
                                       "due (each made once per user and period); 0 turns digests off."
                                       ).tag(config=True)
    digest_hour_utc = Integer(7, min=0, max=23, help="Hour of the day (UTC) from which the day's digests are sent; "
                                                     "weekly digests go on Mondays.").tag(config=True)
    forum_answer_target_hours = Float(24.0, help="A question without an answer for longer than this is listed "
                                                 "in its course staff's digest as waiting too long."
                                      ).tag(config=True)

    def __init__(self, environ=None, **kwargs):
        """``environ`` (default ``os.environ``) and the config file fill in what ``kwargs`` leave open."""
        environ = os.environ if environ is None else environ
        raw_env = {name: environ[var] for name, var in ENV.items() if environ.get(var)}
        data_dir = kwargs.get("data_dir") or raw_env.get("data_dir") or str(REPO_ROOT / ".lms-data")
        path = kwargs.get("config_file") or raw_env.get("config_file")
        if not path and Path(data_dir, CONFIG_FILE_NAME).is_file():
            path = str(Path(data_dir, CONFIG_FILE_NAME))
        file_values = dict(_load_file(path).get("LMSConfig", {})) if path else {}
        sources = {name: "file" for name in file_values}
        try:
            super().__init__(config=Config({"LMSConfig": file_values}))
        except TraitError as exc:
            raise ConfigError(f"config file {path}: {_reason(exc)}") from None
        for name, raw in raw_env.items():
            if name in kwargs:
                continue
            trait = self.traits()[name]
            try:
                # strings verbatim: traitlets' from_string would expand ~ and strip quotes
                value = raw if isinstance(trait, Unicode) else trait.from_string(raw.strip())
            except ValueError:
                raise ConfigError(f"{ENV[name]}={raw!r}: expected {trait.info()}") from None
            try:
                setattr(self, name, value)
            except TraitError as exc:
                raise ConfigError(f"{ENV[name]}={raw!r}: {_reason(exc)}") from None
            sources[name] = "env"
        for name, value in kwargs.items():
            setattr(self, name, value)
            sources[name] = "argument"
        if path and "config_file" not in sources:  # found in the data folder
            self.config_file = str(path)
        self._sources = sources

    # ------------------------------------------------------------------ read-only after start-up
    _frozen = False

    def freeze(self) -> "LMSConfig":
        """Make every setting read-only from now on (start-up is over); returns the object."""
        object.__setattr__(self, "_frozen", True)
        return self

    @property
    def frozen(self) -> bool:
        return self._frozen

    def __setattr__(self, name, value):
        if self._frozen and not name.startswith("_"):
            raise SettingsFrozen(f"LMSConfig.{name}: settings are read-only after start-up")
        super().__setattr__(name, value)

    def set_trait(self, name, value):  # traitlets' way around __setattr__
        if self._frozen:
            raise SettingsFrozen(f"LMSConfig.{name}: settings are read-only after start-up")
        super().set_trait(name, value)

    def __deepcopy__(self, memo):
        # traitlets deep-copies the values it hands to a Configurable (the hub's authenticator
        # receives this object through c.LMSAuthenticator.lms_config): a frozen object is
        # shared like any immutable value, so everyone reads the one loaded configuration.
        if self._frozen:
            return self
        raise TypeError("an LMSConfig is shared, not copied: freeze() it first")

    def apply(self, values: dict, source: str) -> None:
        """Settings decided at start-up by the code that loads the configuration (the hub's
        Stripe test server for demo mode), before ``freeze()``; ``source`` names who set them."""
        for name, value in values.items():
            setattr(self, name, value)
            self._sources[name] = source

    def environment(self, names) -> dict[str, str]:
        """The ``ENV`` variables that hand these settings to another process, which loads
        them back as they are here."""
        return {ENV[name]: _as_env(getattr(self, name)) for name in names}

    def source(self, name: str) -> str:
        """Where ``name``'s value came from: default, file, env, argument, or the start-up
        code that decided it (``apply``)."""
        return self._sources.get(name, "default")

    @default("db_url")
    def _db_url(self):
        return f"sqlite:///{Path(self.data_dir).resolve() / 'lms.sqlite'}"

    @default("hub_db_url")
    def _hub_db_url(self):
        return f"sqlite:///{Path(self.data_dir).resolve() / 'jupyterhub.sqlite'}"

    @default("public_url")
    def _public_url(self):
        return f"http://127.0.0.1:{self.port}"

    @validate("public_url")
    def _public_url_without_slash(self, proposal):
        return proposal["value"].rstrip("/")  # links are built as public_url + "/path"

    @default("bind_url")
    def _bind_url(self):
        return f"http://127.0.0.1:{self.service_port}"

    @default("open_signup")
    def _open_signup(self):
        return self.demo

    @default("storage_dir")
    def _storage_dir(self):
        return str(Path(self.data_dir) / "storage")

    @default("payout_hold_days")
    def _payout_hold_days(self):
        return self.refund_window_days

    @default("cookie_secret")
    def _cookie_secret(self):
        path = Path(self.data_dir) / "lms_cookie_secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(32))
        return path.read_text().strip()

    @default("vapid_private_key")
    def _vapid_private_key(self):
        import base64

        from cryptography.hazmat.primitives.asymmetric import ec

        path = Path(self.data_dir) / "lms_vapid_private_key"
        if not path.exists():  # the service and the worker may start at once: one key wins (link)
            number = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
            path.parent.mkdir(parents=True, exist_ok=True)
            draft = path.with_name(f".{path.name}.{os.getpid()}")
            draft.touch(mode=0o600)
            draft.write_text(base64.urlsafe_b64encode(number.to_bytes(32, "big")).decode().rstrip("="))
            try:
                os.link(draft, path)
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        return path.read_text().strip()

    @default("vapid_public_key")
    def _vapid_public_key(self):
        return vapid_public_key_of(self.vapid_private_key)

    @default("vapid_subject")
    def _vapid_subject(self):
        from email.utils import parseaddr

        return "mailto:" + (parseaddr(self.smtp_from)[1] or "noreply@localhost")

    # ------------------------------------------------------------------ lms config show
    def effective(self) -> list[tuple[str, str, str, str]]:
        """(name, variable, value, source) of every setting, secrets masked."""
        rows = []
        names = list(ENV) + [n for n in self.class_own_traits(config=True) if n not in ENV]
        for name in names:
            var = ENV.get(name, "-")
            if name == "cookie_secret" and self.source(name) == "default":
                value = f"(kept in {Path(self.data_dir) / 'lms_cookie_secret'})"  # reading it would create it
            elif name.startswith("vapid_p") and self.source(name) == self.source("vapid_private_key") == "default":
                value = f"(from {Path(self.data_dir) / 'lms_vapid_private_key'})"  # reading it would create it
            else:
                value = _shown(name, getattr(self, name))
            rows.append((name, var, value, self.source(name)))
        return rows


def vapid_public_key_of(private_key: str) -> str:
    """The public key (uncompressed point, base64url) of a VAPID private key (base64url);
    ConfigError when it is not a P-256 private number."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        raw = base64.urlsafe_b64decode(private_key.strip() + "=" * (-len(private_key.strip()) % 4))
        if len(raw) != 32:
            raise ValueError("not 32 bytes")
        key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except ValueError:
        raise ConfigError("LMS_VAPID_PRIVATE_KEY: expected a P-256 private key, 32 bytes in base64url") from None
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(point).decode().rstrip("=")


def _load_file(path: str) -> Config:
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"config file {file} does not exist (LMS_CONFIG_FILE)")
    try:
        return PyFileConfigLoader(file.name, path=str(file.parent)).load_config()
    except Exception as exc:  # a broken file stops the start with its name, not a traceback
        raise ConfigError(f"config file {file}: {type(exc).__name__}: {exc}") from None


def _reason(exc: Exception) -> str:
    # traitlets: "The 'x' trait of an LMSConfig instance expected an int, not the str 'abc'."
    text = str(exc)
    return text.replace("a LMSConfig instance", "LMSConfig").replace("an LMSConfig instance", "LMSConfig")


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _as_env(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _shown(name: str, value) -> str:
    if name in SECRETS:
        return "***" if value else ""
    if name in URL_SECRETS:
        return mask_url(str(value))
    return _as_env(value)
