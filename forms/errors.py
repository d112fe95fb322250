"""The one exception type of `forms/`: a form that cannot be compiled or read."""

from __future__ import annotations


class FormError(Exception):
    """A form could not be compiled or understood.

    `message` tells a form designer what to fix; `sheet` and `row` locate it in the XLSForm when
    pyxform said where the problem is; `code` numbers the refusals of our own (`ENTITIES_003`),
    so a form designer can look one up and a test can tell them apart.
    """

    def __init__(self, message: str, *, sheet: str | None = None, row: int | None = None,
                 warnings: tuple[str, ...] = (), code: str | None = None):
        super().__init__(message)
        self.message = message
        self.sheet = sheet
        self.row = row
        self.warnings = warnings
        self.code = code

    def __str__(self) -> str:
        where = []
        if self.sheet:
            where.append(f"sheet '{self.sheet}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        message = f"[{self.code}] {self.message}" if self.code else self.message
        return f"{', '.join(where)}: {message}" if where else message
