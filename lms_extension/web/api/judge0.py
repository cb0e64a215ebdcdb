"""The Judge0-compatible API inside the platform, at ``/services/lms/api/judge0/``.

Same endpoints as ``lms judge0`` (see ``graders.judge0.handlers``), authenticated with the user's
own JupyterHub token instead of Judge0's X-Auth-Token; each user reads only their own
submissions. Callbacks are refused inside the platform: a server-side PUT to an address a
student chooses would reach the platform's private network.
"""
from __future__ import annotations

from graders.judge0.config import Judge0Config
from graders.judge0.handlers import judge0_handlers
from graders.judge0.service import Judge0Service
from jupyterhub.services.auth import HubOAuth, check_scopes

from ...ratelimit import parse_rate
from ...services.judge0_submissions import DatabaseStore


async def hub_token_user(handler) -> str | None:
    auth = HubOAuth.instance()
    token = auth.get_token(handler, in_cookie=False)
    if not token:
        return None
    model = await auth.user_for_token(token, sync=False)
    if not model or model.get("kind") != "user":
        return None
    if auth.access_scopes and not check_scopes(auth.access_scopes, set(model.get("scopes", ()))):
        return None
    return model["name"]


def service(service_prefix: str, session_factory, rate_limiter=None, runs_rate: str = "120/60") -> Judge0Service:
    """One per process: its run pool is shared with code challenges (one bound for all runs);
    runs per user are counted by ``rate_limiter`` (shared by replicas on Redis); submissions
    are kept in the database, so any replica answers for any token."""
    rate = parse_rate(runs_rate)
    config = Judge0Config(
        base_path=service_prefix + "api/judge0", callback_hosts=frozenset(), rate_limiter=rate_limiter,
        max_runs_per_user_per_minute=rate[0] * 60.0 / rate[1] if rate else None)
    return Judge0Service(config, store=DatabaseStore(session_factory, config.submission_ttl))


def handlers(judge0: Judge0Service) -> list:
    return judge0_handlers(judge0, judge0.config.base_path, hub_token_user)
