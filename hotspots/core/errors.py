"""Typed errors that mean "the user asked for something we cannot do"; all are HotspotsError.

The CLI prints the message as a single line and exits 2; the API answers 400 (``ValidationError``,
``FormatError``), 404 (``NotFoundError``) or 409 (``NotReadyError``). Anything else is a bug and
keeps its traceback. Engine messages name the engine's argument (``visit_minutes``); front ends
that call the option something else (``--visit-minutes``) say so in their own help.
"""


class HotspotsError(Exception):
    """A user error: bad input, a wrong argument, a file that is not what it claims to be."""


class ValidationError(HotspotsError):
    """An argument is out of range, of the wrong kind or inconsistent with another (the API answers 400)."""


class FormatError(HotspotsError):
    """A file does not have the layout its reader expects."""


class NotFoundError(HotspotsError):
    """The store holds no such record (the API answers 404)."""


class NotReadyError(HotspotsError):
    """The request is sound but the store does not yet hold what it needs: no incidents, no GPS pings,
    no promoted model (the API answers 409)."""
