"""The one validation of the environment that `run` and `check-config` share (issue 12,
item 7): what `run` would refuse, `check-config` refuses, with one line naming the variable.

`check_environment` builds, without connecting anywhere, every account and configuration
`run` would build from the environment — the same constructors `run` uses — and adds the
checks that are not tied to one constructor (a port that is set but invalid, Slack with a
bot token and nothing to receive events with). It returns warnings: things that work but
that an admin should hear about (a password sent in clear text).
"""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from bot.errors import ConfigError
from bot.settings import Settings
from bot.texts import t

PORT_NAMES = ("IMAP_PORT", "SMTP_PORT", "SLACK_PORT", "TEAMS_PORT", "WEB_PORT")


def check_environment(settings: Settings) -> list[str]:
    """Raise ConfigError for what `run` cannot start with; return the warnings."""
    env, lang = settings.env, settings.org.language
    label = t(lang, "env_label")
    for name in PORT_NAMES:                      # a typo in a port is refused even while unused
        settings.port(name, 0)
    source = settings.mail_source
    if source == "imap":
        from bot.mail.imap import ImapAccount
        ImapAccount.from_settings(settings)
    elif source == "graph":
        from bot.mail.graph import GraphConfig
        GraphConfig.from_settings(settings)
    if env.get("SMTP_HOST") and source != "graph":
        from bot.mail.smtp import SmtpAccount
        SmtpAccount.from_settings(settings)
    _check_slack(settings, label)
    if settings.channels()["teams"]:
        from handlers.teams import teams_config
        teams_config(settings)
    if any(name.startswith("WEB_") for name in env):
        from bot.web.auth import WebOptions
        from bot.web.entra import EntraConfig
        EntraConfig.from_settings(settings, WebOptions.from_settings(settings).base_url)
    return _warnings(settings)


def _check_slack(settings: Settings, label: str) -> None:
    env, lang = settings.env, settings.org.language
    token = env.get("SLACK_BOT_TOKEN")
    receivers = env.get("SLACK_APP_TOKEN") or env.get("SLACK_SIGNING_SECRET")
    if token and not receivers:
        raise ConfigError(label, "SLACK_APP_TOKEN", t(lang, "env_slack_no_receiver"))
    if receivers and not token:
        raise ConfigError(label, "SLACK_BOT_TOKEN", t(lang, "env_slack_no_token"))
    app_token = env.get("SLACK_APP_TOKEN")
    if app_token and not app_token.startswith("xapp-"):
        raise ConfigError(label, "SLACK_APP_TOKEN", t(lang, "env_slack_app_token"))
    api_url = (env.get("SLACK_API_URL") or "").strip()
    if api_url:
        parts = urlsplit(api_url)
        # tokens travel in every request: plain http only to a stand-in on this machine
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if not parts.hostname or not (parts.scheme == "https" or parts.scheme == "http" and loopback):
            raise ConfigError(label, "SLACK_API_URL", t(lang, "env_bad_url"))


def _warnings(settings: Settings) -> list[str]:
    env, lang = settings.env, settings.org.language
    warnings = []
    for kind in ("IMAP", "SMTP"):
        if (env.get(f"{kind}_SECURITY") or "").lower() == "none" and env.get(f"{kind}_PASSWORD"):
            warnings.append(t(lang, "env_warn_clear_password", kind=kind))
    if settings.mail_source != "imap" and any(env.get(f"IMAP_{k}") for k in ("HOST", "USER")):
        warnings.append(t(lang, "env_warn_unused", prefix="IMAP_*", source=settings.mail_source))
    if settings.mail_source != "graph" and env.get("GRAPH_TENANT_ID") \
            and not settings.org.teams_graph_chat_read:
        warnings.append(t(lang, "env_warn_unused", prefix="GRAPH_*", source=settings.mail_source))
    # issue 26: Outlook's automatic replies come through the Graph mail source; the Teams
    # look-up of a post in doubt through the Graph app of GRAPH_*
    if settings.org.outlook_absence and settings.mail_source != "graph":
        warnings.append(t(lang, "env_warn_outlook_absence", source=settings.mail_source))
    if settings.org.teams_graph_chat_read and not env.get("GRAPH_TENANT_ID"):
        warnings.append(t(lang, "env_warn_teams_chat_read"))
    return warnings


# --------------------------------------------------------------------------- data directory
def data_dir_state(data_dir: Path) -> str:
    """"ready" (a writable directory), "new" (absent; will be created on first write);
    raises ConfigError when it cannot be used: not a directory, not writable, or its
    nearest existing parent does not let us create it."""
    path = Path(data_dir)
    if path.exists():
        if not path.is_dir():
            raise ConfigError("--data", "AVVIKELSEBOT_DATA", f"{path}: {_problem('not_dir')}")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError("--data", "AVVIKELSEBOT_DATA", f"{path}: {_problem('not_writable')}")
        return "ready"
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError("--data", "AVVIKELSEBOT_DATA", f"{path}: {_problem('cannot_create')}")
    return "new"


def _problem(key: str) -> str:
    # the organisation file may not be read yet (its language unknown): Swedish, the default
    return t("sv", f"data_dir_{key}")
