"""APScheduler wiring: one idempotent reminder scan inside `run`.

The scan itself (Services.run_reminders) decides what is due from the rules and the
sent markers in the store, so the job can run often, late or twice without harm.
Deliberately no per-case `date` jobs: APScheduler 3.x drops a date job whose moment
passed while the process was down (misfire_grace_time), which would lose a reminder.
"""
from __future__ import annotations

import asyncio
import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

SCAN_JOB = "scan_reminders"


def start_scheduler(bot, *, minutes: float = 5.0) -> AsyncIOScheduler:
    """Start the scan on the running event loop: now, then every `minutes`."""
    scheduler = AsyncIOScheduler(timezone=bot.settings.org.timezone)

    async def scan() -> None:
        try:
            # among several instances only the leader scans (bot.app.Bot.as_leader)
            queued = await asyncio.to_thread(bot.as_leader, bot.services.run_reminders, [])
            bot.metrics.reminder_scan()
            fresh = [r for r in queued if not r["already_sent"]]
            if fresh:
                log.info("påminnelser: %d nya", len(fresh))
                await asyncio.to_thread(bot.services.deliver_outbox, wait=False)
            # the people's Outlook working hours, each read at most every few hours (issue 24)
            await asyncio.to_thread(bot.as_leader, bot.services.refresh_working_hours, {})
        except DatabaseUnavailable:      # the store logs the outage once; the next scan runs
            bot.metrics.reminder_scan(ok=False)
        except Exception:  # the next scan tries again; nothing is marked sent unless queued
            bot.metrics.reminder_scan(ok=False)
            log.exception("påminnelsesökningen misslyckades")

    scheduler.add_job(scan, "interval", minutes=minutes, id=SCAN_JOB, replace_existing=True,
                      coalesce=True, max_instances=1, misfire_grace_time=None,
                      next_run_time=_now(bot))
    scheduler.start()
    return scheduler


def _now(bot):
    return bot.clock.now()
