"""Bundled notifications through the outbox (issue 24): a manager with 40 overdue cases gets
one message, a red case goes at once, a bulk `avsluta` is one message per follower, a
process killed between claim and record delivers the bundle once, and a press on one row of
a Slack bundle acts on that case only. Decided by what the fakes recorded and the outbox rows."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from bot.app import build
from bot.chat.slack import ROW, notification_ref
from bot.domain.access import Actor
from bot.ops.health import BotProbe
from bot.settings import Settings, load_organisation
from tests.fakes.mail import FakeMailSender, make_mail
from tests.fakes.notifier import FakeNotifier
from tests.fakes.slack_api import BOT_ID, BOT_USER, TEAM, FakeSlackApi, interaction
from tests.scenario.test_slack import ANNA_DM, SECRET, USERS, dispatch, run, slack_config

# Thursday 19 November 2026 08:00 in Stockholm: the register step of Monday's cases is overdue
THURSDAY_8 = datetime(2026, 11, 19, 7, 0, tzinfo=timezone.utc)
WINDOW = timedelta(minutes=10)


def deviation(n: int, *, unit: str = "Hemtjänst Norr", red: bool = False) -> bytes:
    body = f"Vi anmäler en avvikelse nummer {n}." + (" Allvarlighetsgrad: röd." if red else "")
    return make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                     subject=f"Avvikelse {unit}, händelse {n}", body=body,
                     message_id=f"<bundle-{n}@regionexempel.se>")


def forty_cases(bot, notifier, clock) -> list[str]:
    for n in range(40):
        bot.services.ingest_mail(deviation(n))
    numbers = sorted({c.number for c in bot.store.open_cases()})
    assert len(numbers) == 40
    bot.services.run_reminders()             # Monday's scan: the week's digest goes today
    bot.services.deliver_outbox()            # the new cases: anna's 40, at once (new work)
    clock.set(clock.now() + WINDOW)
    bot.services.deliver_outbox()            # and the digest
    assert len([n for n in notifier.to("anna") if n["event"] == "incoming_diarised"]) == 40
    notifier.sent.clear()
    return numbers


def test_forty_overdue_cases_are_one_message_to_their_manager(bot, notifier, clock):
    forty_cases(bot, notifier, clock)
    clock.set(THURSDAY_8)
    bot.services.run_reminders()
    queued = [n for n in bot.store.outbox() if n["event"] == "reminder" and n["recipient"] == "anna"]
    assert len(queued) == 40                 # one item per case in the store
    bot.services.deliver_outbox()
    assert notifier.to("anna") == []         # held for the window
    clock.set(THURSDAY_8 + WINDOW)
    bot.services.deliver_outbox()
    [message] = notifier.to("anna")
    assert sorted(message["members"]) == sorted(n["id"] for n in queued)
    text = message["text"]
    assert text.startswith("40 ärenden att se över") and "40 påminnelser" in text
    assert len(re.findall(r"^\d+\. VOK 2026/00\d\d «", text, re.M)) == 15   # 15 rows
    assert text.rstrip().endswith("… och 25 till")
    assert all(bot.store.notification(n["id"])["state"] == "sent" for n in queued)
    # every item of the bundle recorded with the same delivery
    assert len({json.dumps(bot.store.notification(n["id"])["delivery"], sort_keys=True)
                for n in queued}) == 1
    # the next scan the same day adds nothing, and the day ends with that one message
    clock.set(THURSDAY_8 + timedelta(hours=3))
    bot.services.run_reminders()
    bot.services.deliver_outbox()
    assert len(notifier.to("anna")) == 1


def test_the_ma_gets_the_day_of_kannedom_copies_as_one_message(bot, notifier, clock):
    for n in range(6):
        bot.services.ingest_mail(deviation(n))
        clock.set(clock.now() + timedelta(minutes=20))
    bot.services.deliver_outbox()
    assert notifier.to("maria") == []        # held to 13:00
    clock.set(datetime(2026, 11, 16, 12, 0, tzinfo=timezone.utc))   # 13:00 in Stockholm
    bot.services.deliver_outbox()
    assert notifier.to("maria") == []        # the window opens at 13:00 ...
    clock.set(datetime(2026, 11, 16, 12, 10, tzinfo=timezone.utc))
    bot.services.deliver_outbox()
    [message] = notifier.to("maria")         # ... and closes at 13:10: one message
    assert len(message["members"]) == 6 and "6 för kännedom" in message["text"]


def test_a_red_case_is_told_at_once(bot, notifier, clock):
    bot.services.ingest_mail(deviation(1))
    bot.services.ingest_mail(deviation(2, red=True))
    bot.services.deliver_outbox()
    to_maria = notifier.to("maria")
    # the red case's kännedom copy and its Lex Maria/Sarah request at once; the other copy waits
    assert [(n["diary_number"], n["event"]) for n in to_maria] == [
        ("VOK 2026/0002", "incoming_diarised")]
    lex = [n for n in notifier.sent if n["event"] == "lex_requested"]
    assert lex and {n["diary_number"] for n in lex} == {"VOK 2026/0002"}
    assert [n for n in bot.store.outbox("pending") if n["recipient"] == "maria"][0][
        "diary_number"] == "VOK 2026/0001"
    # overdue: the red case's reminder goes at the scan, the other one's waits for the bundle
    notifier.sent.clear()
    clock.set(THURSDAY_8)
    bot.services.run_reminders()
    bot.services.deliver_outbox()
    assert [(n["diary_number"], n["event"]) for n in notifier.to("anna")
            if n["event"] != "digest"] == [("VOK 2026/0002", "reminder")]


def test_a_held_bundle_is_no_backlog_for_readyz(bot, notifier, clock):
    bot.services.ingest_mail(deviation(1))
    bot.services.deliver_outbox()
    clock.set(clock.now() + timedelta(minutes=30))       # 10:00: the copies wait for 13:00
    ok, body = BotProbe(bot, 600.0).readiness()
    assert body["checks"]["outbox"]["pending"] == 2 and body["checks"]["outbox"]["ok"], body


def test_bulk_avsluta_of_fifty_is_one_message_to_each_follower(bot, notifier, clock):
    for n in range(50):
        bot.services.ingest_mail(deviation(n, unit=("Hemtjänst Norr", "Hemtjänst Söder")[n % 2]))
    clock.set(datetime(2026, 11, 16, 12, 10, tzinfo=timezone.utc))   # after the 13:00 bundle
    bot.services.deliver_outbox()
    assert len(notifier.to("maria")) == 1 and len(notifier.to("sven")) == 1
    notifier.sent.clear()
    numbers = sorted(c.number for c in bot.store.open_cases())
    reply = bot.services.handle_command(Actor.person("rut"),
                                        "avsluta " + ", ".join(numbers) + " dubblett", "cli")
    assert reply.ok and reply.text.startswith("50 ärenden avslutade"), reply.text
    assert not bot.store.open_cases()
    clock.set(datetime(2026, 11, 17, 7, 10, tzinfo=timezone.utc))    # Tuesday 08:10
    bot.services.deliver_outbox()
    for follower in ("maria", "sven"):
        [message] = notifier.to(follower)
        assert len(message["members"]) == 50 and "50 för kännedom" in message["text"]
    assert notifier.to("rut") == []          # the closer gets no copy of what she did
    assert [n for n in notifier.sent if n["recipient"] not in ("maria", "sven")] == []


def test_bulk_avsluta_closes_what_it_may_and_says_what_it_may_not(bot, clock):
    for n in range(3):
        bot.services.ingest_mail(deviation(n))
    reply = bot.services.handle_command(Actor.person("rut"),
                                        "avsluta VOK 2026/0001, VOK 2026/0009, VOK 2026/0002 fel", "cli")
    assert not reply.ok
    assert reply.text.splitlines()[0] == "2 ärenden avslutade: VOK 2026/0001, VOK 2026/0002."
    assert "VOK 2026/0009" in reply.text
    assert [c.number for c in bot.store.open_cases()] == ["VOK 2026/0003"]


# ---------------------------------------------------------------------------- Slack, crash
def slack_bot(tmp_path, clock, api: FakeSlackApi, sender: FakeMailSender | None = None):
    config = slack_config(tmp_path)
    env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_API_URL": api.url, "SLACK_PORT": "0"}
    if sender is not None:
        env["SMTP_HOST"] = "127.0.0.1"
    settings = Settings(config_path=config, data_dir=tmp_path / "data", org=load_organisation(config),
                        env=env)
    bot = build(settings, clock=clock, sender=sender or FakeMailSender())
    bot.slack = next(f for f in bot.frontends if f.channel == "slack")
    return bot


def overdue_on_slack(bot, clock, count: int) -> None:
    for n in range(count):
        bot.services.ingest_mail(deviation(n))
    bot.services.run_reminders()             # Monday's scan: the week's digest goes today
    bot.services.deliver_outbox()
    clock.set(clock.now() + WINDOW)
    bot.services.deliver_outbox()
    clock.set(THURSDAY_8)
    bot.services.run_reminders()


class Killed(BaseException):
    """The process dies here: nothing after it in the worker runs (not an Exception the
    outbox would catch and retry)."""


def test_killed_between_claim_and_record_the_bundle_is_delivered_once(tmp_path, clock):
    with FakeSlackApi(USERS) as api:
        bot = slack_bot(tmp_path, clock, api)
        overdue_on_slack(bot, clock, 5)
        before = len(api.conversation(ANNA_DM))
        clock.set(THURSDAY_8 + WINDOW)
        notifier = bot.notifiers["slack"]
        real_send = notifier.send

        def post_then_die(item):
            real_send(item)          # the post exists in Slack ...
            raise Killed()           # ... and the outbox never hears of it

        notifier.send = post_then_die
        try:
            bot.services.deliver_outbox()
        except Killed:
            pass
        reminders = [n for n in bot.store.outbox() if n["event"] == "reminder"]
        assert len(reminders) == 5 and all(n["state"] == "sending" for n in reminders)
        [bundle] = {n["bundle"] for n in reminders}
        assert len(api.conversation(ANNA_DM)) == before + 1
        bot.close()

        again = slack_bot(tmp_path, clock, api)          # the next process
        try:
            clock.set(clock.now() + timedelta(minutes=1))
            again.services.deliver_outbox()
            again.services.deliver_outbox()
            assert all(again.store.notification(n["id"])["state"] == "sent" for n in reminders)
            posts = api.conversation(ANNA_DM)[before:]
            refs = [(m.get("metadata") or {}).get("event_payload", {}).get("ref") for m in posts]
            assert refs == [notification_ref(bundle)]    # one message, found, not posted again
            assert len(api.calls_to("conversations.history")) == 1
        finally:
            again.close()


def press_row(api, message: dict, row: int, label: str, user: str) -> str:
    """What Slack posts when a button of one row of a bundle is pressed."""
    block = next(b for b in message["blocks"] if b["type"] == "actions"
                 and b["block_id"].startswith(f"{ROW}{row}:"))
    element = next(e for e in block["elements"] if e["text"]["text"] == label)
    action = {"action_id": element["action_id"], "block_id": block["block_id"], "type": "button",
              "value": element["value"], "text": element["text"], "action_ts": "1763283600.000200"}
    payload = {"type": "block_actions", "user": {"id": user, "username": user, "team_id": TEAM},
               "api_app_id": "A0AVV", "token": "legacy", "trigger_id": "1.2.trigger",
               "team": {"id": TEAM, "domain": "exempelby"}, "actions": [action],
               "container": {"type": "message", "message_ts": message["ts"],
                             "channel_id": ANNA_DM, "is_ephemeral": False},
               "channel": {"id": ANNA_DM, "name": "directmessage"},
               "message": {"type": "message", "ts": message["ts"], "text": message["text"],
                           "blocks": message["blocks"], "bot_id": BOT_ID, "user": BOT_USER},
               "response_url": api.response_url("press")}
    return interaction(payload)


def test_a_press_on_one_row_of_a_slack_bundle_acts_on_that_case_only(tmp_path, clock):
    with FakeSlackApi(USERS) as api:
        bot = slack_bot(tmp_path, clock, api)
        try:
            overdue_on_slack(bot, clock, 4)
            clock.set(THURSDAY_8 + WINDOW)
            bot.services.deliver_outbox()
            message = api.conversation(ANNA_DM)[-1]
            rows = [b for b in message["blocks"] if b["type"] == "actions"]
            assert len(rows) == 4                        # a row of buttons per case
            values = [e["value"] for e in rows[2]["elements"]]
            assert "registrerad VOK 2026/0003" in values
            response = run(dispatch(bot, press_row(api, message, 2, "Registrerad", "U0ANNA")))
            assert response.status == 200
            status = {c.number: c.status for c in bot.store.open_cases()}
            assert status == {"VOK 2026/0001": "diarised", "VOK 2026/0002": "diarised",
                              "VOK 2026/0003": "registered", "VOK 2026/0004": "diarised"}
            [update] = api.calls_to("chat.update")
            left = [b for b in update.params["blocks"] if b["type"] == "actions"]
            assert [b["block_id"].split(":")[1] for b in left] == ["0", "1", "3"]
            done = [b for b in update.params["blocks"] if b["type"] == "context"
                    and "VOK 2026/0003" in b["elements"][0]["text"]]
            assert done and "Anna Andersson" in done[0]["elements"][0]["text"]
        finally:
            bot.close()


def test_an_email_bundle_has_a_mailto_line_per_case(tmp_path, clock):
    from bot.chat.email import EmailNotifier
    config = slack_config(tmp_path)
    org = load_organisation(config)
    settings = Settings(config_path=config, data_dir=tmp_path / "data", org=org,
                        env={"SMTP_HOST": "127.0.0.1"})
    sender = FakeMailSender()
    bot = build(settings, clock=clock, sender=sender,
                notifiers={"console": FakeNotifier(), "email": EmailNotifier(org, sender)})
    bot.services.channels["email"] = True
    try:
        for n in range(3):
            bot.services.ingest_mail(deviation(n))
        bot.services.run_reminders()
        clock.set(datetime(2026, 11, 16, 12, 10, tzinfo=timezone.utc))
        bot.services.deliver_outbox()
        clock.set(THURSDAY_8)
        bot.services.run_reminders()
        clock.set(THURSDAY_8 + WINDOW)
        bot.services.deliver_outbox()
        [mail] = [m for m in sender.sent if m["To"] == org.people["anna"].email
                  and m["Subject"].startswith("3 ärenden")]
        body = mail.get_content()
        for n in (1, 2, 3):
            assert f"- registrerad VOK 2026/000{n}: mailto:{org.mailbox}?subject=" in body
        assert mail["X-Avvikelsebot-Notification"].startswith("bundle:anna:email:")
    finally:
        bot.close()


def test_a_teams_bundle_has_an_action_set_per_case_naming_its_item(bot, notifier, clock):
    from bot.chat.render import bundle_view
    from bot.chat.teams import adaptive_card
    forty_cases(bot, notifier, clock)
    clock.set(THURSDAY_8)
    bot.services.run_reminders()
    members = sorted((n for n in bot.store.outbox() if n["event"] == "reminder"),
                     key=lambda n: n["created"])[:3]
    card = adaptive_card(bot.settings.org, bundle_view(bot.settings.org, members, 15), "bundle:x")
    sets = [b for b in card["body"] if b["type"] == "ActionSet"]
    assert len(sets) == 3
    for action_set, member in zip(sets, members):
        data = [a.get("data") or a["card"]["actions"][0]["data"] for a in action_set["actions"]]
        assert {d["notification"] for d in data} == {member["id"]}
        assert all(member["diary_number"] in d["command"] for d in data)


def test_a_bundle_slack_never_took_goes_as_one_mail(tmp_path, clock):
    """Out of its retries on Slack (issue 22's fallback), a bundle of five reminders is one
    mail saying why it comes by mail, not five."""
    sender = FakeMailSender()
    with FakeSlackApi(USERS) as api:
        bot = slack_bot(tmp_path, clock, api, sender)
        try:
            overdue_on_slack(bot, clock, 5)
            api.go_down()
            start = clock.now()
            while not bot.store.outbox(state="fallback"):
                assert clock.now() - start < timedelta(hours=4), "never handed to e-mail"
                clock.set(clock.now() + timedelta(minutes=2))
                bot.services.deliver_outbox()
            clock.set(clock.now() + WINDOW)
            bot.services.deliver_outbox()
            mails = [m for m in sender.sent if m["To"] == bot.settings.org.people["anna"].email]
            assert len(mails) == 1, [m["Subject"] for m in mails]
            body = mails[0].get_content()
            assert mails[0]["Subject"].startswith("5 ärenden") and "Slack" in body
            assert "med e-post" in body
        finally:
            bot.close()
