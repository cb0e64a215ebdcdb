"""The lab server's few HTML pages (submit confirmation, a newer lesson version) in the
platform's look: the LMS header and footer, its stylesheet served by the LMS service."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                       autoescape=select_autoescape(default=True), keep_trailing_newline=True)


def render(name: str, *, base_url: str, **ns) -> str:
    """``name`` from labserver/templates; ``base_url`` is this server's (``/user/<name>/``)."""
    hub = os.environ.get("JUPYTERHUB_BASE_URL", "/")
    return _env().get_template(name).render(
        lms_prefix=f"{hub}services/lms/", hub_prefix=f"{hub}hub/", base_url=base_url,
        user_name=os.environ.get("JUPYTERHUB_USER", ""), **ns)
