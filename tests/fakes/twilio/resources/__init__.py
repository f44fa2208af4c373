"""The API resources the fake serves. Each module lists its routes in ``ROUTES``; a new
resource (or another Twilio domain) is a new module added to ``ROUTES`` here."""

from tests.fakes.twilio.resources import accounts, configuration, messages
from tests.fakes.twilio.routing import Route

ROUTES: tuple[Route, ...] = (*accounts.ROUTES, *messages.ROUTES, *configuration.ROUTES)
