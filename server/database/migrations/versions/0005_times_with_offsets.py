"""times with offsets

A form's time columns keep the offset the phone sent (08:56:00.000+03:00). On PostgreSQL they
were TIME WITHOUT TIME ZONE and become TIME WITH TIME ZONE; the rows stored before kept only the
wall clock, so they are marked +00 here and `muntada renormalise` rebuilds them with the offset
from the raw XML (the record). On SQLite the columns hold text either way: renormalising is
enough there.

Revision ID: 0005_times_with_offsets
Revises: 0004_decimals_as_reals
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_times_with_offsets'
down_revision = '0004_decimals_as_reals'
branch_labels = None
depends_on = None


def upgrade() -> None:
    _convert("time with time zone", """("{name}"::text || '+00')::time with time zone""")


def downgrade() -> None:
    _convert("time without time zone", '"{name}"::time without time zone')


def _convert(new_type: str, using: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    existing = set(sa.inspect(bind).get_table_names())
    for table, column in bind.execute(sa.text(
            "SELECT t.table_name, c.column_name FROM projection_columns c "
            "JOIN projection_tables t ON t.id = c.table_id "
            "WHERE c.kind = 'time' ORDER BY t.table_name, c.id")):
        if table in existing:
            op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE {new_type} '
                       f"USING {using.format(name=column)}")
