from alembic import context

from lms_extension.models import Base
from lms_extension.models.discovery import include_schema_name

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # dialect-specific full-text index objects live outside the models (migration 0007)
        include_name=include_schema_name,
    )
    with context.begin_transaction():
        context.run_migrations()
