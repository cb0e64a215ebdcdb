"""JupyterHub configuration for Jupyter LMS, driven by the LMS configuration (``lms config show``).

Started by ``lms run`` (which prepares the database and demo data first) or directly with
``jupyterhub -f hub_config/jupyterhub_config.py``.
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub_config import roles, settings as hub_settings, spawners, stripe_demo  # noqa: E402
from hub_config.auth import DEMO_USERS, LMSAuthenticator  # noqa: E402
from lms_extension.config import LMSConfig  # noqa: E402

c = get_config()  # noqa: F821
# the one configuration of this hub: loaded here, completed by the Stripe test server in demo
# mode (against real Stripe unless configured), then frozen by load() and handed down
lms_config = LMSConfig()
_stripe_service = stripe_demo.configure(lms_config)
s = hub_settings.load(lms_config)
s.data_dir.mkdir(parents=True, exist_ok=True)

c.JupyterHub.bind_url = f"http://127.0.0.1:{s.port}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{s.hub_port}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s.proxy_api_port}"
# configurable-http-proxy: the Node.js one that `make` installs (several times faster), else
# the PyPI port installed in the same venv
_node_proxy = Path(__file__).resolve().parent / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
c.ConfigurableHTTPProxy.command = [str(_node_proxy if _node_proxy.exists() else
                                       Path(sys.executable).parent / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(s.data_dir / "jupyterhub-proxy.pid")
c.JupyterHub.db_url = s.hub_db_url
c.JupyterHub.cookie_secret_file = str(s.data_dir / "jupyterhub_cookie_secret")
# the front door (`/`, `/hub/`, after a login without ?next=): the catalog; a logged-in user
# passes through the LMS login, which completes its OAuth handshake (LMSAuthenticator.front_door)
c.JupyterHub.default_url = lambda handler: handler.authenticator.front_door(handler)
# login, sign-up and error pages in the platform's look (lms.css comes from the LMS service)
c.JupyterHub.template_paths = [str(Path(__file__).resolve().parent / "templates")]
c.JupyterHub.template_vars = {"lms_prefix": s.config.service_prefix}
c.JupyterHub.cleanup_servers = True

# identity: NativeAuthenticator (sign-up + login), demo users in demo mode
c.JupyterHub.authenticator_class = LMSAuthenticator
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {"admin"}
if s.demo:
    # listed users get their hub rows at start, so the demo users exist before first login
    c.Authenticator.allowed_users = set(DEMO_USERS)
c.NativeAuthenticator.open_signup = s.open_signup
c.NativeAuthenticator.enable_signup = True
c.NativeAuthenticator.allow_2fa = s.allow_2fa or s.require_2fa
c.NativeAuthenticator.minimum_password_length = 10
c.NativeAuthenticator.check_common_password = True
# the sign-up form asks for an email and a display name (hub_config/auth.py SignUpHandler)
c.NativeAuthenticator.ask_email_on_signup = True
c.LMSAuthenticator.lms_prefix = s.config.service_prefix
# failed logins counted per username and address in Redis, or in a file that outlives restarts
c.LMSAuthenticator.throttle_url = s.redis_url or f"sqlite:///{s.data_dir / 'login-throttle.sqlite'}"
c.LMSAuthenticator.throttle_prefix = s.redis_prefix + "login:"
c.LMSAuthenticator.failures_per_user = s.login_failures_per_user
c.LMSAuthenticator.failures_per_address = s.login_failures_per_address
c.LMSAuthenticator.email_requests_per_address = s.config.email_requests_per_address
c.LMSAuthenticator.require_2fa = s.require_2fa
c.LMSAuthenticator.demo_password = s.demo_password if s.demo else ""
c.LMSAuthenticator.lms_config = s.config  # account deletion erases the LMS data with it
# hub cookies (login, session, _xsrf) never reach scripts nor cross-site requests
c.JupyterHub.tornado_settings.update({"cookie_options": {"httponly": True, "samesite": "Lax"}})

# the LMS service, managed by the hub, and the roles that give each kind of user its scopes
service_env = {k: v for k, v in os.environ.items() if k.startswith("LMS_") and k != "LMS_DEMO_PASSWORD"}
service_env.update({"LMS_DATA_DIR": str(s.data_dir), "PATH": os.environ.get("PATH", "")})
if _stripe_service:  # the test server's address and keys, as this hub's configuration has them
    service_env.update(s.config.environment(stripe_demo.SETTINGS))
if s.config.config_file:  # the services load the file the hub loaded
    service_env["LMS_CONFIG_FILE"] = str(Path(s.config.config_file).resolve())
c.JupyterHub.services = [{
    "name": "lms",
    "url": f"http://127.0.0.1:{s.service_port}",
    "command": [sys.executable, "-m", "lms_extension.cli", "service"],
    "environment": service_env,
    "oauth_no_confirm": True,
    # its first start imports the whole LMS: more than JupyterHub's 30 s on a busy machine
    "timeout": 120,
    "oauth_client_allowed_scopes": [roles.TEACH_SCOPE, roles.ADMIN_SCOPE],
    "display": True,
}, {
    # grading worker(s): more can run anywhere that reaches the database (`lms worker`)
    "name": "lms-worker",
    "command": [sys.executable, "-m", "lms_extension.cli", "worker"],
    "environment": service_env,
}]
if _stripe_service:
    c.JupyterHub.services.append(_stripe_service)
roles.configure(c, admin_token=s.admin_token or None)

spawners.configure(c, s)
# a server that died on its own never gets stop(): its home image is unmounted here
from hub_config import homes  # noqa: E402

c.Spawner.post_stop_hook = homes.release_after_stop
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 60
c.Spawner.environment = {
    # the lms_extension in each student server reaches the service without the proxy; in the
    # server's own network namespace this address is the forwarder to lms.sock (hub_config/netbridge.py)
    "LMS_SERVICE_URL": f"http://127.0.0.1:{s.service_port}/services/lms/",
    # learning-time heartbeats of the lms_extension; its idle kernels are shut down after kernel_cull_seconds
    **s.config.environment(["heartbeat_seconds", "idle_seconds", "kernel_cull_seconds"]),
}
