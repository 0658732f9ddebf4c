from alembic import context
from sqlalchemy import text

from gridgov.models import Base

engine = context.config.attributes["engine"]


def run(connection) -> None:
    with connection.begin():
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


with engine.connect() as connection:
    if connection.dialect.name != "sqlite":
        run(connection)
    else:
        # Batch mode rebuilds a table by copying it, dropping the old one and renaming the copy.
        # With foreign keys on, that DROP deletes, by cascade, every row that refers to the table
        # (rebuilding `cases` emptied `case_events`). The pragma only works outside a transaction.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        try:
            run(connection)
            broken = connection.execute(text("PRAGMA foreign_key_check")).all()
            connection.commit()
            if broken:
                raise RuntimeError(f"migration left rows whose foreign key points nowhere: {broken[:10]}")
        finally:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")  # the pooled connection goes back as it came
            connection.commit()
