"""Errors of the Twilio API: refused credentials, and a service that kept failing."""

from __future__ import annotations

from analyzer.errors import EXIT_FAILURE, UserError


class AuthError(UserError):
    """Twilio refused the credentials (HTTP 401/403)."""


class TwilioAPIError(UserError, RuntimeError):
    """The API kept failing after all retries, or answered in an unexpected way.

    Shown like every other error (one line, credentials scrubbed), but exit code 1:
    nothing in the command was wrong, the service was not there.
    """

    exit_code = EXIT_FAILURE
