"""The arrival time of a mail: the diary's *inkom* date and the start of every deadline.

Pure (DESIGN §4). The mailbox's own time wins: Graph receivedDateTime, IMAP INTERNALDATE,
Maildir delivery time. Only without one (a file given to `ingest`) do we read the mail:
the topmost Received: (our receiving server's clock), else the sender's Date:. A time is
used only when it is plausible: not before 2000 and not more than a day ahead of the
bot's clock (clocks drift and time zones get mislabelled, but a mail from next week or from
1970 is a broken or hostile header). Otherwise the bot's own clock, the moment it read the
mail, is the arrival time. The mailbox's own time is trusted further (up to a year ahead of
the bot's clock: its clock is the mailbox server's, not a stranger's); beyond that (a file
touched to 2099) it also gives the bot's clock, never the sender's Date:.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.mail.message import InboundMail

EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
FUTURE_TOLERANCE = timedelta(days=1)
MAILBOX_FUTURE_TOLERANCE = timedelta(days=366)


def plausible(moment: datetime | None, now: datetime,
              ahead: timedelta = FUTURE_TOLERANCE) -> bool:
    if moment is None:
        return False
    try:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return EARLIEST <= moment <= now + ahead
    except (OverflowError, ValueError, TypeError):
        return False


def arrival_time(mail: InboundMail, arrived: datetime | None, now: datetime) -> datetime:
    """Where the arrival time comes from, in order: the mailbox, Received:, Date:, now."""
    candidates: tuple[datetime | None, ...]
    if arrived is not None:
        candidates, ahead = (arrived,), MAILBOX_FUTURE_TOLERANCE
    else:
        candidates, ahead = (mail.received, mail.date), FUTURE_TOLERANCE
    for moment in candidates:
        if moment is not None and plausible(moment, now, ahead):
            try:
                return moment.astimezone(timezone.utc) if moment.tzinfo else \
                    moment.replace(tzinfo=timezone.utc)
            except (OverflowError, ValueError):
                continue
    return now
