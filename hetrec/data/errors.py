"""`DataError`: bad input, reported with the file, row, column and the fix."""

from __future__ import annotations

import lzma
import os
import zipfile
import zlib
from pathlib import Path

from hetrec.errors import HetrecError


class DataError(HetrecError, ValueError):
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


READ_ERRORS = (EOFError, OSError, zipfile.BadZipFile, zlib.error, lzma.LZMAError)
"""What reading a damaged or truncated (compressed) file raises: gzip's ``BadGzipFile`` is an ``OSError``, a truncated
``.gz``/``.xz``/``.bz2`` ends in ``EOFError``, a damaged deflate stream in ``zlib.error``."""


def read_error(path: str | os.PathLike, e: BaseException, what: str = "table") -> DataError:
    """A `DataError` for a file that cannot be read (``e`` one of `READ_ERRORS`), with the fix."""
    if Path(path).suffix.lower() in (".zip", ".gz", ".bz2", ".xz") and not isinstance(e, PermissionError):
        fix = "the compressed file is damaged or truncated: download or compress it again (or give the plain file)"
    elif isinstance(e, PermissionError):
        fix = "make the file readable (check its permissions)"
    else:
        fix = "check that the file is complete and readable"
    return DataError(f"cannot read the {what} file ({type(e).__name__}: {e})", file=path, fix=fix)


def decode_error(path: str | os.PathLike, e: UnicodeDecodeError, encoding: str, config_key: str,
                 row: int | None = None) -> DataError:
    """A `DataError` for bytes that are not text in ``encoding``: the byte, its line (``row``) and the encoding to
    set."""
    return DataError(
        f"not valid {encoding} text ({e.reason}: byte {e.object[e.start:e.start + 1]!r})", file=path, row=row,
        fix=f"save the file as UTF-8, or set its encoding, e.g. {config_key}=latin-1",
    )
