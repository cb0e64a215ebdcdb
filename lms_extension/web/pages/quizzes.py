"""Quiz answers sent from the lesson page's form."""
from __future__ import annotations

from tornado import web

from ...errors import InvalidInput
from ...services import quizzes
from .lessons import LessonForm


class QuizAnswerPage(LessonForm):
    @web.authenticated
    def post(self, slug: str, lesson_key: str, quiz_key: str):
        user = self.require_user()
        answer = self.get_body_arguments("answer")
        _, lesson, quiz = quizzes.find(self.db, user, slug, quiz_key)
        if lesson.key != lesson_key:
            raise InvalidInput("this quiz belongs to another lesson")
        response = answer if quiz.kind == "choice" else (answer[0] if answer else "")
        try:
            quizzes.answer(self.db, user, slug, quiz_key, response)
        except InvalidInput as exc:  # not counted: back to the lesson, saying why (a 409 stays an error page)
            self.db.rollback()
            self.add_notice(f"Quiz not checked: {exc.message}")
            self.back(slug, lesson_key, "message")
            return
        self.db.commit()
        self.back(slug, lesson_key, f"quiz-{quiz_key}")


default_handlers = [
    (r"courses/([^/]+)/lessons/([^/]+)/quizzes/([^/]+)", QuizAnswerPage),
]
