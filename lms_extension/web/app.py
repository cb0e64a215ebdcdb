"""The LMS service: a Tornado application mounted by JupyterHub at ``/services/lms/``."""
from __future__ import annotations

import logging
import re
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from tornado import web
from tornado.log import access_log

from ..config import LMSConfig
from ..db import check_revision, make_engine, session_factory
from ..ratelimit import limiter_from_url
from ..services import analytics, notifications, push, recommendations, search
from ..services.catalog import CatalogCache
from ..services.payments import stripe_client
from ..services.payments.policy import CommercePolicy
from ..services.storage import from_config as storage_from_config
from .api import achievements as achievements_api
from .api import bookmarks as bookmarks_api
from .api import bundles as bundles_api
from .api import certificates as certificates_api
from .api import challenges as challenges_api
from .api import checkout as checkout_api
from .api import coupons as coupons_api
from .api import courses as courses_api
from .api import earnings as earnings_api
from .api import enrollments as enrollments_api
from .api import exchange as exchange_api
from .api import featured as featured_api
from .api import grading as grading_api
from .api import invoices as invoices_api
from .api import judge0 as judge0_api
from .api import leaderboard as leaderboard_api
from .api import lessons as lessons_api
from .api import moderation as moderation_api
from .api import notes as notes_api
from .api import openapi
from .api import orders as orders_api
from .api import progress as progress_api
from .api import quizzes as quizzes_api
from .api import recommendations as recommendations_api
from .api import refunds as refunds_api
from .api import resources as resources_api
from .api import reviews as reviews_api
from .api import submissions as submissions_api
from .api import trending as trending_api
from .api import webhooks as webhooks_api
from .api import wishlist as wishlist_api
from .api import instructor_applications as instructor_applications_api
from .pages import applications as applications_pages
from .api import teach as teach_api
from .api import roster as roster_api
from .pages import roster as roster_pages
from .api import analytics as analytics_api
from .api import authoring as authoring_api
from .pages import analytics as analytics_pages
from .api import admin as admin_api
from .pages import admin as admin_pages
from .pages import admin_commerce as admin_commerce_pages
from .api import announcements as announcements_api
from .pages import announcements as announcements_pages
from .base import NotFoundHandler, SecurityHeaders
from .pages import achievements as achievements_pages
from .pages import bookmarks as bookmarks_pages
from .pages import catalog as catalog_pages
from .pages import certificates as certificates_pages
from .pages import challenges as challenge_pages
from .pages import checkout as checkout_pages
from .pages import earnings as earnings_pages
from .pages import enrollments as enrollments_pages
from .pages import grading as grading_pages
from .pages import invoices as invoices_pages
from .pages import leaderboard as leaderboard_pages
from .pages import lessons as lesson_pages
from .pages import login as login_pages
from .pages import moderation as moderation_pages
from .pages import notes as notes_pages
from .pages import previews as previews_pages
from .pages import purchases as purchases_pages
from .pages import quizzes as quizzes_pages
from .pages import refunds as refunds_pages
from .pages import resources as resources_pages
from .pages import reviews as reviews_pages
from .pages import covers as covers_pages
from .pages import instructors as instructors_pages
from .pages import profile as profile_pages
from .api import notifications as notifications_api
from .api import push as push_api
from .api import forum as forum_api
from .api import forum_ask as forum_ask_api
from .pages import notifications as notifications_pages
from .pages import forum as forum_pages
from .api import messages as messages_api
from .pages import messages as messages_pages
from .pages import mail as mail_pages
from .pages import admin_mail as admin_mail_pages
from .pages import digests as digests_pages
from .pages import teach as teach_pages
from .pages import videos as videos_pages
from .pages import wishlist as wishlist_pages

HERE = Path(__file__).resolve().parent.parent
# one module per resource (no two of their patterns match the same path, so the order is free)
HANDLER_MODULES = (
    login_pages, catalog_pages, enrollments_pages, lesson_pages, challenge_pages, teach_pages, courses_api,
    enrollments_api, lessons_api, challenges_api, submissions_api,
    exchange_api, grading_pages, grading_api, bundles_api, checkout_api, coupons_api, earnings_api,
    invoices_api, orders_api, refunds_api, webhooks_api, checkout_pages, earnings_pages, invoices_pages,
    purchases_pages, refunds_pages, achievements_api, bookmarks_api, certificates_api, leaderboard_api,
    notes_api, progress_api, quizzes_api, resources_api, achievements_pages, bookmarks_pages,
    certificates_pages, leaderboard_pages, notes_pages, quizzes_pages, resources_pages, videos_pages,
    featured_api, moderation_api, recommendations_api, reviews_api, trending_api, wishlist_api,
    moderation_pages, previews_pages, reviews_pages, wishlist_pages, openapi,
    covers_pages, instructors_pages, profile_pages,
    instructor_applications_api, applications_pages, teach_api, roster_api, roster_pages, analytics_api, analytics_pages, admin_api, admin_pages, admin_commerce_pages, announcements_api, announcements_pages,
    authoring_api,
    mail_pages, admin_mail_pages, digests_pages, notifications_api, push_api, notifications_pages, forum_api, forum_ask_api, forum_pages,
    messages_api, messages_pages,
)


def _money(cents: int, currency: str) -> str:
    if cents == 0:
        return "Free"
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency.lower())
    amount = f"{cents / 100:,.2f}"
    return f"{symbol}{amount}" if symbol else f"{amount} {currency.upper()}"


def jinja_env() -> Environment:
    # auto_reload off: templates are part of the installed package; checking each file's mtime
    # on every render cost a tenth of a catalog page
    env = Environment(loader=FileSystemLoader(HERE / "templates"), auto_reload=False,
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = _money
    env.globals["application_news"] = applications_pages.application_news  # base.html's banner
    env.globals["unread_messages"] = messages_pages.unread_messages  # base.html's Messages link
    return env


def log_request(handler) -> None:
    """Errors at warning level, the rest at debug: per-request logging costs throughput."""
    status = handler.get_status()
    level = logging.WARNING if status >= 400 else logging.DEBUG
    if access_log.isEnabledFor(level):
        access_log.log(level, "%d %s %.2fms", status, handler._request_summary(),
                       1000.0 * handler.request.request_time())


COOKIE_OPTIONS = {"httponly": True, "samesite": "Lax"}


def configure_hub_auth(config: LMSConfig) -> HubOAuth:
    """The one HubOAuth of this process: a short cache, so that a logout on the hub (which
    deletes the session's OAuth tokens) ends the LMS session within seconds, not HubAuth's
    default five minutes; and Lax, HttpOnly cookies."""
    if HubOAuth.initialized():
        HubOAuth.clear_instance()
    return HubOAuth.instance(cache_max_age=config.hub_auth_cache_seconds, cookie_options=dict(COOKIE_OPTIONS))


def make_recommender(config) -> recommendations.Recommender:
    return recommendations.Recommender(config.recommender or "tfidf", config.recommendations_cache_seconds)


def make_app(config: LMSConfig, engine=None) -> web.Application:
    config.freeze()  # handlers read it (settings["lms_config"]); nothing changes it from here on
    engine = engine or make_engine(config.db_url)
    if config.check_schema:
        check_revision(engine)
    prefix = config.service_prefix
    configure_hub_auth(config)
    # notification emails link back (one-click unsubscribe) signed with the cookie secret
    notifications.configure_email_links(config.public_url + prefix, config.cookie_secret)
    push.application_server_key(config)  # refuses a VAPID key pair that does not match
    handlers = [(prefix + "oauth_callback", HubOAuthCallbackHandler)]
    for module in HANDLER_MODULES:
        handlers += [(prefix + pattern, handler) for pattern, handler in module.default_handlers]
    # one limiter for every replica when LMS_REDIS_URL is set
    rate_limiter = limiter_from_url(config.redis_url, prefix=config.redis_prefix + "rl:")
    judge0 = judge0_api.service(prefix, session_factory(engine), rate_limiter, config.rate_limit_code_runs)
    handlers += judge0_api.handlers(judge0)
    handlers.append((re.escape(prefix.rstrip("/")) + r"/?(?!static/).*", NotFoundHandler))
    return web.Application(
        handlers,
        transforms=[SecurityHeaders],  # the security headers on every response, static files too
        lms_config=config,
        session_factory=session_factory(engine),
        engine=engine,
        handler_modules=HANDLER_MODULES,
        jinja_env=jinja_env(),
        catalog_cache=CatalogCache(config.catalog_cache_seconds,
                                   vocabulary=search.VocabularyCache(config.search_vocabulary_seconds)),
        recommender=make_recommender(config),
        analytics_recorder=analytics.VisitRecorder(),  # storefront visits, written in batches
        storage=storage_from_config(config),  # lesson resources and videos
        judge0=judge0,
        rate_limiter=rate_limiter,
        # commerce: built here once; a configuration payments cannot run with leaves no client
        lms_commerce_policy=CommercePolicy.from_config(config),
        lms_stripe_client=None if stripe_client.readiness(config) else stripe_client.from_config(config),
        log_function=log_request,
        static_path=str(HERE / "static"),
        static_url_prefix=prefix + "static/",
        xsrf_cookies=True,
        xsrf_cookie_kwargs=dict(COOKIE_OPTIONS),
        cookie_secret=config.cookie_secret,
    )
