"""Export message records from Twilio's Messages API (v2010) into a message dataset.

The requested range is cut into time slices of ``date_sent`` that are listed
concurrently; each page is read as raw JSON and turned into Arrow columns directly.
Pages are retried on throttling, server errors and broken transfers. Days are
written to the dataset as soon as every slice that can hold their records is done.

Only records with a ``date_sent`` can be found: the API filters on nothing else,
so messages that never left Twilio (queued, scheduled, many failed) are not exported.

``export_config`` exports the account's configuration (numbers, Messaging Services,
Monitor alerts) through the SDK into the dataset's configuration folder.
"""

from analyzer.sources.twilio_api.config import ConfigExportResult, export_config
from analyzer.sources.twilio_api.credentials import Credentials, check_api_base_url, scrub
from analyzer.sources.twilio_api.errors import AuthError, TwilioAPIError
from analyzer.sources.twilio_api.export import ExportResult, export_messages
from analyzer.sources.twilio_api.fetcher import RetryPolicy
from analyzer.sources.twilio_api.folders import (
    check_output_folder,
    missing_folders,
    remove_created_folders,
)
from analyzer.sources.twilio_api.listing import list_accounts
from analyzer.sources.twilio_api.pages import API_SOURCE, page_to_table, parse_rfc2822
from analyzer.sources.twilio_api.slicing import plan_slices

__all__ = [
    "API_SOURCE",
    "AuthError",
    "ConfigExportResult",
    "Credentials",
    "ExportResult",
    "RetryPolicy",
    "TwilioAPIError",
    "check_api_base_url",
    "check_output_folder",
    "export_config",
    "export_messages",
    "list_accounts",
    "missing_folders",
    "page_to_table",
    "parse_rfc2822",
    "plan_slices",
    "remove_created_folders",
    "scrub",
]
