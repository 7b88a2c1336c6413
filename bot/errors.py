"""Exception hierarchy of the bot.

Every error the bot raises on purpose derives from :class:`BotError`, so the
boundaries (CLI, scheduler, chat handlers) can translate them into messages.
"""


class BotError(Exception):
    """Base of all errors the bot translates at its boundaries."""


class ConfigError(BotError):
    """A configuration value is missing or invalid."""

    def __init__(self, file, key, problem):
        self.file = file
        self.key = key
        self.problem = problem
        super().__init__(file, key, problem)

    def __str__(self):
        return f"{self.file}: {self.key}: {self.problem}"


class MailSourceError(BotError):
    """Fetching or parsing mail from the mailbox failed."""


class DeliveryError(BotError):
    """A notification could not be delivered now; the outbox retries it with back-off,
    or after `retry_after` seconds when the service said so (HTTP 429 Retry-After)."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Unreachable(DeliveryError):
    """The person cannot be reached on this channel at all (e.g. Teams: the app was never
    installed for them). The outbox falls back to e-mail and tells the registrator once."""


class StoreError(BotError):
    """The case diary storage failed or refused an operation."""


class DatabaseUnavailable(StoreError):
    """The database cannot be reached now (down, restarting, the connection broke). Expected
    during an outage: the store says so once when it starts and once when it ends, and the
    loops that meet it wait and try again without a traceback of their own."""


class DomainError(BotError):
    """A refused transition or command; the message is user-facing."""


class PermissionDenied(DomainError):
    """The user is not allowed to perform the command."""
