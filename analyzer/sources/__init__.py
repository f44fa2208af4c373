"""Where message records come from: the Twilio API, and files exported from Twilio."""

from analyzer.sources.files import ImportResult, import_files
from analyzer.sources.twilio_api import (
    AuthError,
    Credentials,
    ExportResult,
    RetryPolicy,
    TwilioAPIError,
    export_messages,
)

__all__ = [
    "AuthError",
    "Credentials",
    "ExportResult",
    "ImportResult",
    "RetryPolicy",
    "TwilioAPIError",
    "export_messages",
    "import_files",
]
