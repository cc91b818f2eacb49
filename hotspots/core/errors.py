"""Typed errors that mean "the user asked for something we cannot do"; all are HotspotsError.

The CLI prints the message as a single line and exits 2; the API answers 400 (``ValidationError``,
``FormatError``), 404 (``NotFoundError``) or 409 (``NotReadyError``, ``IntegrityError``). Anything else is a bug and
keeps its traceback. Engine messages name the engine's argument (``visit_minutes``) and list it in
``arguments``; a front end that calls it something else rewrites the name with ``message_as``
(the CLI writes ``--visit-minutes``).
"""

from __future__ import annotations

import re
from collections.abc import Callable


class HotspotsError(Exception):
    """A user error: bad input, a wrong argument, a file that is not what it claims to be.

    Parameters
    ----------
    message : one line saying what is wrong and what would work, naming arguments as the engine does.
    arguments : the engine arguments the message names, so front ends can write them their own way.
    """

    def __init__(self, message: str, *, arguments: str | tuple[str, ...] = ()):
        super().__init__(message)
        self.arguments = (arguments,) if isinstance(arguments, str) else tuple(arguments)

    def message_as(self, spell: Callable[[str], str]) -> str:
        """The message with each of ``arguments`` written as ``spell`` names it.

        An argument is renamed where it is written ``name=value``; where it never is, its first
        mention as a whole word ("needs reason"). Other uses of the same word ("no Dask
        scheduler answered") are left alone.
        """
        message = str(self)
        for name in self.arguments:
            word = rf"(?<![\w.-]){re.escape(name)}(?![\w-])"
            if re.search(word + "=", message):
                message = re.sub(word + "(?==)", spell(name), message)
            else:
                message = re.sub(word, spell(name), message, count=1)
        return message


class ValidationError(HotspotsError):
    """An argument is out of range, of the wrong kind or inconsistent with another (the API answers 400)."""


class FormatError(HotspotsError):
    """A file does not have the layout its reader expects."""


class NotFoundError(HotspotsError):
    """The store holds no such record (the API answers 404)."""


class ForbiddenError(HotspotsError):
    """The caller's role or NPUs do not cover this record (the API answers 403)."""


class IntegrityError(HotspotsError):
    """A stored record no longer matches the fingerprint taken when it was issued: it was altered
    outside hotspots and must not be used (the API answers 409)."""


class NotReadyError(HotspotsError):
    """The request is sound but the store does not yet hold what it needs: no incidents, no GPS pings,
    no promoted model (the API answers 409)."""
