"""The challenge page: statement, editor, run and submit."""
from __future__ import annotations

import json

from tornado import web

from ...services import challenges
from ..base import BaseHandler
from ..markdown import render_markdown


class ChallengePage(BaseHandler):
    @web.authenticated
    def get(self, slug: str, lesson_key: str, key: str):
        user = self.require_user()
        challenge = challenges.find(self.db, user, slug, lesson_key, key)
        api_base = f"{self.config.service_prefix}api/v1/challenges/{challenge.id}"
        self.render_page(
            "challenge.html", challenge=challenge, course=challenge.lesson.course, lesson=challenge.lesson,
            statement_html=render_markdown(challenge.statement), languages=challenges.languages(),
            starter=json.loads(challenge.starter_code), public_tests=challenges.public_tests(challenge),
            submissions=[challenges.submission_view(s) for s in challenges.submissions_of(self.db, user, challenge)],
            api_base=api_base, ws_url_path=api_base + "/run", xsrf_token=self.xsrf_token.decode(),
        )


default_handlers = [(r"courses/([^/]+)/lessons/([^/]+)/challenges/([^/]+)", ChallengePage)]
