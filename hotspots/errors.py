"""The one exception type that means "the user asked for something we cannot do".

The CLI prints its message as a single line and exits non-zero; anything else is a bug
and keeps its traceback.
"""


class HotspotsError(Exception):
    """A user error: bad input, a wrong argument, a file that is not what it claims to be."""


class FormatError(HotspotsError):
    """A file does not have the layout its reader expects."""


class NotFoundError(HotspotsError):
    """The store holds no such record (the API answers 404)."""


class NotReadyError(HotspotsError):
    """The request is sound but the store does not yet hold what it needs: no incidents, no GPS pings,
    no promoted model (the API answers 409)."""
