"""SQLAlchemy 2 models. Alembic (``lms_extension/migrations``) is the only schema source."""
from .base import Base
from . import account_email, admin, analytics, announcements, applications, audit, authoring, commerce, digests, discovery, forum, forum_ask, grading, jobs, judge0, learning, mail, messages, notifications, push, roster  # noqa: F401  (areas register their tables)
from .challenge import Challenge, ChallengeSubmission, ChallengeTest
from .course import Course, Lesson, LessonVersion
from .submission import NotebookSubmission
from .user import Enrollment, Instructor, LessonProgress, User

__all__ = ["Base", "Challenge", "ChallengeSubmission", "ChallengeTest", "Course", "Enrollment", "Instructor", "Lesson", "LessonProgress", "LessonVersion", "NotebookSubmission", "User"]
