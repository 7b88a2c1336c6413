"""What an admin may write in [mail] trusted_authserv_ids: a host name, a "*.domain"
pattern, or "exchange-online". Apart from bot.mail.authenticity so that reading the settings
does not load the mail model (every CLI command reads the settings)."""
from __future__ import annotations

import re

EXCHANGE_ONLINE = "exchange-online"

_ENTRY_NAME = re.compile(r"^(?:\*\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$")


def valid_trust_entry(value: str) -> bool:
    """A [mail] trusted_authserv_ids entry: a host name, "*.domain", or "exchange-online"."""
    value = value.strip().lower()
    return value == EXCHANGE_ONLINE or bool(_ENTRY_NAME.match(value))
