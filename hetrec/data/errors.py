"""`DataError`: bad input, reported with the file, row, column and the fix."""

from __future__ import annotations

import os


class DataError(ValueError):
    """Bad input data: what happened, where (file, row, column, value) and how to fix it.

    Rows are counted as in the file, 1-based, the header line being row 1 (so the first data row of a file with a header
    is row 2), which is what a text editor or a spreadsheet shows.

    Args:
        what: what is wrong, in a few words.
        file: the file the data came from (``None`` for in-memory data).
        row: 1-based row number in the file (header = row 1), or ``None`` when not about one row.
        column: the column name, or ``None``.
        value: the offending value, or ``None``.
        fix: how to fix it (a Hydra override when it is a config problem).
    """

    def __init__(
        self,
        what: str,
        *,
        file: str | os.PathLike | None = None,
        row: int | None = None,
        column: str | None = None,
        value: object = None,
        fix: str | None = None,
    ) -> None:
        self.what = what
        self.file = None if file is None else str(file)
        self.row = row
        self.column = column
        self.value = value
        self.fix = fix
        where = []
        if self.file is not None:
            where.append(f"file {self.file}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        msg = ", ".join(where)
        msg = f"{msg}: {what}" if msg else what
        if value is not None:
            msg += f" (value {value!r})"
        if fix:
            msg += f". Fix: {fix}"
        super().__init__(msg)
