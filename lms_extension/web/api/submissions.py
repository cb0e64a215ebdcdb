"""Notebook submissions: stored at once (202), graded by a worker, polled for the result."""
from __future__ import annotations

from ...errors import InvalidInput
from ...services import grading_queue
from ..base import APIHandler, requires_user


class LessonSubmissionsAPI(APIHandler):
    @requires_user
    def post(self, slug: str, lesson_key: str):
        user = self.require_user()
        body = self.json_body()
        if not isinstance(body, dict) or "notebooks" not in body:
            raise InvalidInput('send {"notebooks": {"<lesson>.ipynb": <notebook>}}')
        submission = grading_queue.enqueue(self.db, user, slug, lesson_key, body["notebooks"])
        self.db.commit()
        self.set_header("Location", f"{self.config.service_prefix}api/v1/submissions/{submission.id}")
        self.write_json(grading_queue.view(submission), 202)


class SubmissionAPI(APIHandler):
    @requires_user
    def get(self, submission_id: str):
        user = self.require_user()
        self.write_json(grading_queue.view(grading_queue.get_own(self.db, user, int(submission_id))))


default_handlers = [
    (r"api/v1/courses/([^/]+)/lessons/([^/]+)/submissions", LessonSubmissionsAPI),
    (r"api/v1/submissions/([0-9]+)", SubmissionAPI),
]
