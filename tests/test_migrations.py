"""Alembic is the only schema source: models and migrations must agree."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lms_extension.db import check_revision, current_revision, head_revision, upgrade
from lms_extension.errors import SchemaMismatch
from lms_extension.models import Base
from lms_extension.models.discovery import include_schema_name


def test_models_match_migrations(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_schema_name}), Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_startup_refuses_unmigrated_database(fresh_engine):
    with pytest.raises(SchemaMismatch, match="lms db upgrade"):
        check_revision(fresh_engine)


def test_upgrade_then_check_passes_and_is_idempotent(fresh_engine):
    upgrade(fresh_engine)
    upgrade(fresh_engine)
    assert current_revision(fresh_engine) == head_revision()
    check_revision(fresh_engine)


def test_downgrade_to_base_and_back(fresh_engine):
    upgrade(fresh_engine)
    from alembic import command

    from lms_extension.db import alembic_config

    command.downgrade(alembic_config(fresh_engine), "base")
    assert current_revision(fresh_engine) is None
    upgrade(fresh_engine)
    check_revision(fresh_engine)
