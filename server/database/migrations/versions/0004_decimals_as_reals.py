"""decimals as reals

The decimal columns of the relational tables (every form's f_* tables, listed in
projection_columns with kind 'decimal', geopoint parts included) become floating point on both
databases. On SQLite they were NUMERIC, whose affinity stored a whole number (82) as an integer,
so that `score / 100` divided as integers (0); a REAL column keeps 82.0. SQLite cannot change a
column's type in place: each such table is rebuilt (Alembic's batch mode copies its rows, keys
and indexes). On PostgreSQL they become DOUBLE PRECISION, which divides as a decimal too.

Revision ID: 0004_decimals_as_reals
Revises: 0003
Create Date: 2026-12-02
"""
from collections import defaultdict

from alembic import op
import sqlalchemy as sa


revision = '0004_decimals_as_reals'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    _convert(sa.Numeric(), sa.Double(), "double precision")


def downgrade() -> None:
    _convert(sa.Double(), sa.Numeric(), "numeric")


def _convert(old: sa.types.TypeEngine, new: sa.types.TypeEngine, postgresql_type: str) -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    columns = defaultdict(list)
    for table, column in bind.execute(sa.text(
            "SELECT t.table_name, c.column_name FROM projection_columns c "
            "JOIN projection_tables t ON t.id = c.table_id "
            "WHERE c.kind = 'decimal' ORDER BY t.table_name, c.id")):
        if table in existing:
            columns[table].append(column)
    for table, names in columns.items():
        if bind.dialect.name == "postgresql":
            for name in names:
                op.alter_column(table, name, type_=new, existing_type=old,
                                postgresql_using=f'"{name}"::{postgresql_type}')
        else:
            # the copy goes through the new column's affinity: 82 becomes 82.0 (and back)
            with op.batch_alter_table(table, recreate="always") as batch:
                for name in names:
                    batch.alter_column(name, type_=new, existing_type=old)
