"""A bad organisation file is refused naming the file, the key and the problem."""
from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.settings import load_environment, load_organisation, load_settings
from tests.conftest import EXAMPLE_CONFIG

GOOD = EXAMPLE_CONFIG.read_text(encoding="utf-8")


def _load(tmp_path, text: str):
    path = tmp_path / "org.toml"
    path.write_text(text, encoding="utf-8")
    return load_organisation(path), path


def test_the_example_is_a_realistic_organisation(org):
    assert len(org.units) >= 5 and all(u.aliases for u in org.units.values())
    assert len(org.counterparts) >= 4 and all(c.domains for c in org.counterparts.values())
    roles = {role for p in org.people.values() for role in p.roles}
    assert roles == {"manager", "ma", "sas", "registrator"}
    assert org.subscriptions and org.deadlines.respond["red"] == 5
    assert org.counterpart_by_address("x@sjukhus.regionexempel.se").id == "sjukhuset"
    assert org.counterpart_by_address("x@mail.ftvexempel.se").id == "folktandvarden"
    assert org.records.classification == {
        "incoming": "2.3.1 Hantera avvikelser", "outgoing": "2.3.2 Rapportera avvikelser till andra",
        # issue 26: complaints and safety notices are kinds of their own, with their own code
        "klagomål": "2.3.3 Hantera synpunkter och klagomål",
        "fsn": "2.3.4 Hantera säkerhetsmeddelanden för medicintekniska produkter",
        "request": "1.4.1 Hantera begäran om allmän handling"}


@pytest.mark.parametrize("old, new, key, problem", [
    ('start = "08:00"', 'start = "8 på morgonen"', "office_hours.start", "tid"),
    ('series = "VOK"', 'series = "vok 1"', "diary.series", "versaler"),
    ('language = "sv"', 'language = "fi"', "organisation.language", "sv"),
    ('timezone = "Europe/Stockholm"', 'timezone = "Europe/Sthlm"', "organisation.timezone", "tidszon"),
    ('managers = ["anna"]\n', 'managers = ["annna"]\n', "units[0].managers", "okänd person 'annna'"),
    ('roles = ["ma"]', 'roles = ["läkare"]', "people[1].roles", "okänd roll"),
    ('register = 2', 'register = "två"', "deadlines.register", "heltal"),
    ('respond = { red = 5,', 'respond = { rod = 5,', "deadlines.respond.rod", "allvarlighetsgrad"),
    ('closed_days = ["2026-12-23"]', 'closed_days = ["23/12"]', "office_hours.closed_days[0]", "datum"),
    ('units = ["*"]', 'units = ["solgarden", "hemtjanst-vaster"]', "subscriptions[0].units", "okänd enhet"),
    ('mailbox = "registrator.vok@exempelby.se"', 'mailbox = "registrator"', "organisation.mailbox", "e-postadress"),
    ('digits = 4', 'digits = 4\nsiffror = 5', "diary.siffror", "okänd nyckel"),
    ('roles = ["registrator"]', 'roles = ["manager"]', "[[people]]", "registrator"),
    ('domains = ["vctorget.se"]', 'domains = ["exempelby.se"]', "counterparts[3].domains", "egna domäner"),
    ('incoming = "2.3.1 Hantera avvikelser"', 'incoming = "avvikelser"',
     "records.classification.incoming", "KLASSA"),
    ('classification = { incoming', 'classification = { inkommande', "records.classification.inkommande",
     "okänd typ"),
    # issue 26
    ('outlook_absence = false', 'outlook_absence = "ja"', "mail.outlook_absence", "true eller false"),
    ('graph_chat_read = false', 'graph_chat_read = 1', "teams.graph_chat_read", "true eller false"),
    ('bundle_minutes = 10', 'bundle_minutes = -1', "notifications.bundle_minutes", "heltal mellan 0"),
    ('info_at = ["08:00", "13:00"]', 'info_at = ["08:00", "kl 13"]', "notifications.info_at[1]", "tid"),
    ('info_at = ["08:00", "13:00"]', 'info_at = "13:00"', "notifications.info_at", "lista av tider"),
])
def test_bad_values_name_the_file_the_key_and_the_problem(tmp_path, old, new, key, problem):
    assert old in GOOD, old
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, GOOD.replace(old, new, 1))
    error = caught.value
    assert str(tmp_path / "org.toml") == error.file
    assert error.key == key
    assert problem in error.problem
    assert str(error).startswith(f"{error.file}: {key}: ")


def test_broken_toml_and_missing_file_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="ogiltig TOML"):
        _load(tmp_path, GOOD + "\n[organisation\n")
    with pytest.raises(ConfigError, match="finns inte"):
        load_organisation(tmp_path / "saknas.toml")


def test_environment_overrides_dotenv_and_ignores_strangers(tmp_path, monkeypatch):
    dotenv = tmp_path / ".env"
    dotenv.write_text("MAIL_SOURCE=imap\nIMAP_HOST=imap.example\nOTHER=x\n", encoding="utf-8")
    env = load_environment({"MAIL_SOURCE": "graph", "PATH": "/bin"}, dotenv)
    assert env == {"MAIL_SOURCE": "graph", "IMAP_HOST": "imap.example"}


def test_unknown_mail_source_is_refused():
    with pytest.raises(ConfigError) as caught:
        load_settings(EXAMPLE_CONFIG, "/tmp/x", environ={"MAIL_SOURCE": "pop3"})
    assert caught.value.key == "MAIL_SOURCE"


@pytest.mark.parametrize("name", ["IMAP_PORT", "SMTP_PORT", "SLACK_PORT", "TEAMS_PORT"])
def test_a_port_that_is_no_port_is_refused_naming_the_variable(org, tmp_path, name):
    from bot.errors import ConfigError
    from bot.settings import Settings
    settings = Settings(config_path=tmp_path / "org.toml", data_dir=tmp_path, org=org,
                        env={name: "99999"})
    with pytest.raises(ConfigError) as error:
        settings.port(name, 1)
    assert error.value.key == name and "99999" in error.value.problem
    assert Settings(config_path=tmp_path, data_dir=tmp_path, org=org, env={}).port(name, 143) == 143


@pytest.mark.parametrize("line, problem", [
    ('default = "ibland"', 'ska vara "omedelbart", "samlat TT:MM", "tyst" eller "dygnet runt"'),
    ('default = "samlat 18:00"', "utanför kontorstiden 08:00–16:30"),
    ('working_hours_refresh_hours = 0', "heltal mellan 1 och 168"),
])
def test_a_bad_notification_preference_is_refused_in_swedish(tmp_path, line, problem):
    """Issue 24: [notification_preferences] default and working_hours_refresh_hours."""
    anchor = 'default = "omedelbart"\n'
    assert anchor in GOOD
    text = GOOD.replace("working_hours_refresh_hours = 4", "", 1) if "refresh" in line else GOOD
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text.replace(anchor, line + "\n", 1))
    assert caught.value.key.startswith("notification_preferences.")
    assert problem in caught.value.problem


def test_the_notification_default(tmp_path, org):
    """The shipped example: quiet outside working hours; "dygnet runt" (any hour) for an
    office with staff round the clock; unset (no line, or no section): at any hour, as before."""
    assert org.notify_default == "omedelbart" and org.working_hours_refresh_hours == 4
    anchor = 'default = "omedelbart"\n'
    chosen, _ = _load(tmp_path, GOOD.replace(anchor, 'default = "samlat 15.00"\n', 1))
    assert chosen.notify_default == "samlat 15:00"
    for word in ("dygnet runt", "Dygnet  runt", "any hour", "always"):
        round_the_clock, _ = _load(tmp_path, GOOD.replace(anchor, f'default = "{word}"\n', 1))
        assert round_the_clock.notify_default == "dygnet runt"
    unset, _ = _load(tmp_path, GOOD.replace(anchor, "", 1))
    assert unset.notify_default == ""
    no_section, _ = _load(tmp_path, GOOD.replace(anchor, "", 1).replace(
        "[notification_preferences]", "", 1).replace("working_hours_refresh_hours = 4", "", 1))
    assert no_section.notify_default == ""


def test_notifications_are_bundled_by_default_and_can_be_turned_off(tmp_path, org):
    from datetime import time
    assert org.notifications.bundle_minutes == 10
    assert org.notifications.info_at == (time(8, 0), time(13, 0))
    off, _ = _load(tmp_path, GOOD.replace("bundle_minutes = 10", "bundle_minutes = 0", 1))
    assert off.notifications.bundle_minutes == 0
    bare, _ = _load(tmp_path, GOOD.replace("[notifications]", "[notifications_gone]", 1)
                    .replace("bundle_minutes = 10", "").replace('info_at = ["08:00", "13:00"]', "")
                    .replace("[notifications_gone]", ""))
    assert bare.notifications == org.notifications        # the defaults when the table is absent
