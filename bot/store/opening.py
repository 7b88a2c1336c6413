"""Which store the settings name: PostgreSQL when DATABASE_URL says postgresql://…, else
TinyDB in the data directory. Kept apart from bot.app so that a short-lived reader (`status`)
opens the diary without loading every channel."""
from __future__ import annotations

from bot.errors import BotError
from bot.ports import CaseStore
from bot.settings import Settings
from bot.store.repository import TinyDbCaseStore


def open_store(settings: Settings, *, readonly: bool = False,
               command: str = "avvikelsebot") -> CaseStore:
    """PostgreSQL when DATABASE_URL says postgresql://…, else TinyDB in the data directory."""
    org = settings.org
    url = settings.env.get("DATABASE_URL")
    if url:
        from bot.store.postgres import PostgresCaseStore, is_database_url
        if not is_database_url(url):
            raise BotError("DATABASE_URL måste börja med postgresql://")
        return PostgresCaseStore(url, series=org.series, digits=org.digits,
                                 readonly=readonly, command=command)
    return TinyDbCaseStore(settings.data_dir, series=org.series, digits=org.digits,
                           readonly=readonly, command=command)
