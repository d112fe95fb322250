"""SQLAlchemy Core statements run straight on SQLite's DBAPI cursor: the submission path's
statements, where a worker's new submissions share one transaction (see
server.database.sqlite.group_commit).

SQLAlchemy still writes the SQL and converts the values both ways (each column type's own
processors, so a date is stored exactly as SQLAlchemy stores it and reads it back); what is
skipped is its per-execution machinery (connection and execution context objects, events,
result objects), which cost several times what SQLite itself did for these few small rows.
Errors come back as SQLAlchemy's own exceptions (an `IntegrityError` is still one), so callers
cannot tell the difference.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Executable


class _Compiled:
    """A statement as the driver runs it: SQL with named parameters (`:name`), the conversion
    each parameter needs on the way in and each column of its result on the way out."""

    def __init__(self, statement: Executable, dialect: Dialect, keys: Sequence[str]):
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        self.sql = compiled.string
        self.processors = tuple(
            (name, processor) for name, bind in compiled.binds.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)))
        columns = list(statement.selected_columns) if isinstance(statement, sa.Select) else []
        self.row = namedtuple("Row", [c.key for c in columns]) if columns else None
        self.results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None)
                             for c in columns)

    def params(self, values: Mapping[str, Any]) -> Mapping[str, Any]:
        if not self.processors:
            return values
        converted = dict(values)
        for name, processor in self.processors:
            value = converted.get(name)
            if value is not None:
                converted[name] = processor(value)
        return converted

    def result(self, row: tuple | None):
        if row is None or self.row is None:
            return row
        return self.row(*(p(v) if p else v for p, v in zip(self.results, row, strict=True)))


class Result:
    """The rows of a statement, converted, as much of a CursorResult as the callers use."""

    def __init__(self, rows: list):
        self._rows = rows

    def first(self):
        return self._rows[0] if self._rows else None

    def scalar_one(self) -> Any:
        if not self._rows:
            raise sa.exc.NoResultFound("No row was found when one was required")
        return self._rows[0][0]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def all(self) -> list:
        return list(self._rows)

    def __iter__(self):
        return iter(self._rows)


class _Driver:
    """What both kinds share: `execute(statement, params)` as a Connection has it, and
    `.dialect`, so that the queries of `server.database.queries.arrivals` take either."""

    _cache: dict[tuple[int, tuple[str, ...]], tuple[Executable, _Compiled]] = {}

    def __init__(self, dialect: Dialect, cursor):
        if dialect.name != "sqlite":
            raise ValueError("the driver path speaks to SQLite only")
        self.dialect = dialect
        self._named = _named(dialect)
        self._cursor = cursor
        self._error = dialect.loaded_dbapi.Error

    def execute(self, statement: Executable, params: Mapping[str, Any] | Sequence[Mapping]
                ) -> Result | None:
        many = not isinstance(params, Mapping)
        compiled = self._compiled(statement, tuple(params[0] if many else params))
        try:
            if many:
                self._cursor.executemany(compiled.sql, [compiled.params(p) for p in params])
                return None
            self._cursor.execute(compiled.sql, compiled.params(params))
            return Result([compiled.result(row) for row in self._cursor.fetchall()])
        except self._error as error:
            raise sa.exc.DBAPIError.instance(compiled.sql, params, error, self._error) \
                from error

    def _driver(self, sql: str) -> None:
        try:
            self._cursor.execute(sql)
        except self._error as error:
            raise sa.exc.DBAPIError.instance(sql, None, error, self._error) from error

    def _compiled(self, statement: Executable, keys: tuple[str, ...]) -> _Compiled:
        key = (id(statement), keys)
        found = self._cache.get(key)
        if found is None or found[0] is not statement:
            if len(self._cache) > 1024:
                self._cache.clear()
            found = self._cache[key] = (statement, _Compiled(statement, self._named, keys))
        return found[1]


class _Pooled(_Driver):
    """A connection of the engine's pool, straight on the driver, which SQLAlchemy leaves in
    autocommit mode on SQLite (see server.database): it begins and commits only when told to."""

    def __init__(self, engine: Engine):
        self._pooled = engine.raw_connection()
        try:
            super().__init__(engine.dialect, self._pooled.cursor())
        except BaseException:
            self._pooled.close()
            raise

    def close(self) -> None:
        try:
            self._cursor.close()
        finally:
            self._pooled.close()  # back to the pool

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


class Lane(_Pooled):
    """The connection of a batch of new submissions: one transaction, each item of the batch
    in a savepoint of its own."""

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE, and COMMIT if the block ends well, ROLLBACK if not."""
        self._driver("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._driver("ROLLBACK")
            raise
        try:
            self._driver("COMMIT")
        except BaseException:
            self._driver("ROLLBACK")
            raise

    def run_item(self, work: Callable[[Lane], Any]) -> Any:
        """`work(self)` in a savepoint: undone alone if it raises."""
        self._driver("SAVEPOINT lane_item")
        try:
            value = work(self)
        except BaseException:
            self._driver("ROLLBACK TO SAVEPOINT lane_item")
            self._driver("RELEASE SAVEPOINT lane_item")
            raise
        self._driver("RELEASE SAVEPOINT lane_item")
        return value


class Reader(_Pooled):
    """Reads outside any transaction, for the few before a submission's writes: each
    statement sees what is committed when it runs."""


_NAMED: dict[type, Dialect] = {}


def _named(dialect: Dialect) -> Dialect:
    """The same dialect, writing `:name` parameters: the driver then takes each row's dict as
    it is, with no tuple built per row."""
    named = _NAMED.get(type(dialect))
    if named is None:
        named = _NAMED[type(dialect)] = type(dialect)(paramstyle="named")
    return named
