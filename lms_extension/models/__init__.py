"""SQLAlchemy 2 models. Alembic (``lms_extension/migrations``) is the only schema source."""
from .base import Base
from .course import Course, Lesson, LessonVersion
from .user import Enrollment, Instructor, LessonProgress, User

__all__ = ["Base", "Course", "Enrollment", "Instructor", "Lesson", "LessonProgress", "LessonVersion", "User"]
