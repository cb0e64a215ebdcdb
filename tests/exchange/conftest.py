"""The exchange's service tests share the grading tests' database setup."""
from tests.grading_admin.conftest import engine  # noqa: F401  (SQLite savepoints made real)
