"""Errors as exceptions that carry a stable code.

Codes from the server are those of PROTOCOL.md section 9 (``NAME_TAKEN``, ``AUTH_FAILED``, …).
The client adds its own for what happens on this side: ``CLOSED`` (the connection ended),
``TIMEOUT`` (no answer in time), ``CONNECT_FAILED``.
"""

from __future__ import annotations

from typing import Any, Dict, Optional


class SwitchboardError(Exception):
    """An error with a stable ``code``; ``str(error)`` is the human message."""

    def __init__(self, code: str, message: str, *, ref: Optional[str] = None, fatal: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref
        self.fatal = fatal

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ServerError(SwitchboardError):
    """An error frame (type 0x09) the server sent in answer to a request."""

    @classmethod
    def from_frame(cls, frame: Dict[str, Any]) -> "ServerError":
        return cls(
            str(frame.get("code", "INTERNAL")),
            str(frame.get("message", "")),
            ref=frame.get("ref"),
            fatal=bool(frame.get("fatal", False)),
        )


class ProtocolError(SwitchboardError):
    """The server sent bytes that break the protocol (a bad length, bad UTF-8 or JSON)."""


class ConnectionClosed(SwitchboardError):
    """The connection ended; ``code`` says why (``CLOSED``, or the server's ``KICKED``…)."""


class RequestTimeout(SwitchboardError):
    """No answer arrived in time (code ``TIMEOUT``)."""

    def __init__(self, message: str) -> None:
        super().__init__("TIMEOUT", message)
