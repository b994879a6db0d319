"""`HetrecError`: the one base of every error about bad input or configuration.

Every error hetrec raises because of what a user gave it (a data file, a config value, a command-line argument, an
artifact folder) derives from :class:`HetrecError`; its message names the file/row/column or config key and the fix.
The command-line tools (``hetrec-train``, ``hetrec ...``) print that message alone and exit with status
:data:`EXIT_USER_ERROR` (2); ``--debug`` or ``HETREC_DEBUG=1`` shows the traceback as well. Any other exception is a
bug and keeps its traceback.

Kept subclasses also derive from the built-in class they always had, so ``except ValueError`` keeps working:

==========================================  ==========================  =========================================
class                                       also a                      raised for
==========================================  ==========================  =========================================
:class:`ConfigError` (here)                 ``ValueError``              a config value / override that cannot work
``hetrec.data.errors.DataError``            ``ValueError``              a data file (file, row, column, value, fix)
``hetrec.registry.PluginError`` family      ``RuntimeError`` (...)      an installed encoder plugin
``hetrec.serve.errors.UnknownIdError``      ``KeyError``                a raw id the artifact does not know
``hetrec.serve.errors.ColdStartUnavailable``  ``RuntimeError``          cold start on an artifact without features
==========================================  ==========================  =========================================
"""

from __future__ import annotations

import os
import re

__all__ = [
    "DEBUG_ENV",
    "EXIT_USER_ERROR",
    "ConfigError",
    "HetrecError",
    "composition_error",
    "debug_enabled",
    "user_error",
]

EXIT_USER_ERROR = 2
"""Exit status of a command-line tool that stopped on a `HetrecError` (argparse uses 2 for usage errors too)."""

DEBUG_ENV = "HETREC_DEBUG"


class HetrecError(Exception):
    """Bad input or configuration; the message says what, where (file/row/column or config key) and the fix."""


class ConfigError(HetrecError, ValueError):
    """A config value that cannot work; the message names the override to fix (e.g. ``train.lr=0.01``)."""


def debug_enabled() -> bool:
    """Whether tracebacks of user errors are wanted (``HETREC_DEBUG`` set to anything but ``""``/``0``/``false``)."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def user_error(e: BaseException) -> HetrecError | None:
    """The user error behind ``e``, or ``None`` for a bug (which keeps its traceback).

    ``e`` itself when it is a `HetrecError`; when Hydra's ``instantiate`` wrapped what a constructor raised for its
    config values (a `HetrecError`, a ``ValueError``, or a ``TypeError`` about its arguments), that error as a
    `ConfigError` naming the config group (``encoder``, ``objective``, ``dataset``, ...)."""
    if isinstance(e, HetrecError):
        return e
    try:
        from hydra.errors import InstantiationException
    except ImportError:  # pragma: no cover
        return None
    cause = e.__cause__
    if not isinstance(e, InstantiationException) or cause is None:
        return None
    if isinstance(cause, HetrecError):
        return cause
    if isinstance(cause, ValueError) or (isinstance(cause, TypeError) and "argument" in str(cause)):
        key = re.search(r"full_key: (\S+)", str(e))
        target = re.search(r"target '([^']+)'", str(e))
        where = (key.group(1) if key else "config") + (f" ({target.group(1)})" if target else "")
        err = ConfigError(f"{where}: {cause}; fix the {key.group(1) if key else 'config'}.* overrides")
        err.__cause__ = e
        return err
    return None


def composition_error(e: BaseException) -> str | None:
    """The message of a Hydra error about the command line or the config files (unknown override key, config
    option that does not exist, override syntax), or of a `HetrecError`; ``None`` for anything else."""
    if isinstance(e, HetrecError):
        return str(e)
    from hydra.errors import HydraException, InstantiationException

    if not isinstance(e, HydraException) or isinstance(e, InstantiationException):
        return None
    msg = str(e)
    override = getattr(e, "override", None)  # OverrideParseException: say which override does not parse
    if override and str(override) not in msg:
        msg = f"cannot parse the override {override!r}: {msg}"
    cause = e.__cause__
    if cause is not None and str(cause) and str(cause) not in msg:
        msg += "\n" + str(cause)
    return msg
