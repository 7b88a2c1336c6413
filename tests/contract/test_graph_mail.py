"""GraphMailSource / GraphMailSender / check_online through the real O365 and msal code
against a local Graph stand-in over TLS (tests/fakes/graph_server.py)."""
from __future__ import annotations

import base64
import dataclasses
import email
import email.policy
import hashlib
import json
import time
from datetime import datetime, timezone
from email.message import EmailMessage

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from bot.app import build
from bot.errors import ConfigError, DeliveryError, MailSourceError
from bot.mail.graph import (STATE_FILE, GraphConfig, GraphMailSender, GraphMailSource, RetryPolicy,
                            check_online)
from tests.conftest import FIXTURES
from tests.fakes.graph_server import FakeGraphServer
from tests.fakes.mail import make_mail


@pytest.fixture
def graph():
    with FakeGraphServer() as server:
        yield server


@pytest.fixture
def naps() -> list[float]:
    """The waits the retry policy asked for (the tests do not sleep through them)."""
    return []


@pytest.fixture
def graph_settings(settings, graph):
    return dataclasses.replace(settings, env=graph.env())


def open_source(graph_settings, graph, naps, **options) -> GraphMailSource:
    return GraphMailSource.from_settings(graph_settings, verify=graph.ca_path,
                                         retry=RetryPolicy(base_delay=0.01, sleep=naps.append), **options)


def deviation(n: int, **headers) -> bytes:
    return make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                     subject=f"Avvikelse {n} – utebliven insulindos, Hemtjänst Norr",
                     body="Vi rapporterar en avvikelse inom Hemtjänst Norr. Allvarlighetsgrad: gul.",
                     date=datetime(2026, 11, 16, 7, n, tzinfo=timezone.utc),
                     message_id=f"<avvikelse-{n}@regionexempel.se>", headers=headers)


def saved_cursor(graph_settings) -> dict:
    path = graph_settings.data_dir / STATE_FILE
    return json.loads(path.read_bytes()) if path.exists() else {}


# ---------------------------------------------------------------------------- fetching
def test_a_delta_round_over_two_pages_gives_the_served_mime_and_mailbox_times(graph, graph_settings, naps):
    served = {graph.add_message(deviation(n), conversation_id=f"konv-{n}"): deviation(n) for n in (1, 2, 3)}
    source = open_source(graph_settings, graph, naps)

    fetched = source.fetch()

    assert {source_id: raw for raw, _, source_id, _ in fetched} == served
    assert [arrived for _, arrived, _, _ in fetched] == [
        datetime(2026, 11, 16, 7, n, tzinfo=timezone.utc) for n in (1, 2, 3)]
    assert [conversation for *_, conversation in fetched] == ["konv-1", "konv-2", "konv-3"]
    delta = graph.graph_requests("GET", r"/messages/delta$")
    assert len(delta) == 2 and "$skiptoken" in delta[1].query          # followed the nextLink
    assert "isDraft" in delta[0].query["$select"][0]
    assert all('IdType="ImmutableId"' in r.headers["prefer"] for r in graph.graph_requests())


def test_drafts_and_removed_entries_are_not_mail(graph, graph_settings, naps):
    graph.add_message(deviation(1), is_draft=True)
    source = open_source(graph_settings, graph, naps)
    assert source.fetch() == []
    kept = graph.add_message(deviation(2))
    assert [sid for _, _, sid, _ in source.fetch()] == [kept]
    source.acknowledge(kept)
    graph.add_message(deviation(3))
    # the next round reports the filed mail as @removed, and only the new one as mail
    assert [raw for raw, *_ in source.fetch()] == [deviation(3)]


def test_acknowledge_files_the_mail_in_diarierat_creating_the_folder_once(graph, graph_settings, naps):
    ids = [graph.add_message(deviation(n)) for n in (1, 2, 3)]
    source = open_source(graph_settings, graph, naps)

    for _, _, source_id, _ in source.fetch():
        source.acknowledge(source_id)

    assert [graph.folder_of(i) for i in ids] == ["Diarierat"] * 3     # same ids: immutable
    assert graph.inbox_ids() == []
    assert graph.folder_names().count("Diarierat") == 1
    assert len(graph.graph_requests("POST", r"/childFolders$")) == 1
    assert len(graph.graph_requests("GET", r"/childFolders$")) == 1    # looked up once


def test_an_existing_diarierat_folder_is_reused(graph, graph_settings, naps):
    first = open_source(graph_settings, graph, naps)
    one = graph.add_message(deviation(1))
    first.fetch()
    first.acknowledge(one)
    second = open_source(graph_settings, graph, naps)
    two = graph.add_message(deviation(2))
    second.fetch()
    second.acknowledge(two)
    assert graph.folder_names().count("Diarierat") == 1
    assert graph.folder_of(two) == "Diarierat"


# ---------------------------------------------------------------------------- never lose a mail
def test_the_delta_link_is_saved_only_after_every_ack_and_reused_after_a_restart(graph, graph_settings, naps):
    for n in (1, 2, 3):
        graph.add_message(deviation(n))
    source = open_source(graph_settings, graph, naps)
    fetched = source.fetch()
    for _, _, source_id, _ in fetched[:2]:
        source.acknowledge(source_id)
        assert "delta_link" not in saved_cursor(graph_settings)
    source.acknowledge(fetched[2][2])
    link = saved_cursor(graph_settings)["delta_link"]
    assert link.startswith(graph.base_url) and source.describe()["cursor"]["delta_link"]

    restarted = open_source(graph_settings, graph, naps)
    assert restarted.fetch() == []
    token = link.split("$deltatoken=")[1]
    assert [token] in [r.query.get("$deltatoken") for r in graph.graph_requests("GET", r"/delta$")]
    new = graph.add_message(deviation(4))
    assert [sid for _, _, sid, _ in restarted.fetch()] == [new]


def test_mails_not_acknowledged_before_a_crash_come_back_after_the_restart(graph, graph_settings, naps):
    ids = [graph.add_message(deviation(n)) for n in (1, 2, 3)]
    source = open_source(graph_settings, graph, naps)
    source.fetch()
    source.acknowledge(ids[0])          # ... and the process dies here

    restarted = open_source(graph_settings, graph, naps)
    assert sorted(sid for _, _, sid, _ in restarted.fetch()) == ids[1:]


def test_a_batch_that_was_never_acknowledged_is_read_again(graph, graph_settings, naps, clock):
    ids = [graph.add_message(deviation(n)) for n in (1, 2)]
    source = open_source(graph_settings, graph, naps, clock=clock)
    source.fetch()                      # intake failed: nothing acknowledged
    assert sorted(sid for _, _, sid, _ in source.fetch()) == ids
    # the oldest waiting mail arrived 07:01, the clock says 08:30
    assert source.describe()["lag_seconds"] == 89 * 60 and source.describe()["pending"] == 2


def test_wait_for_mail_sleeps_the_poll_interval_or_less(graph, settings, naps):
    source = open_source(dataclasses.replace(settings, env=graph.env(GRAPH_POLL_SECONDS="0.05")),
                         graph, naps)
    started = time.monotonic()
    source.wait_for_mail(timeout=30)
    assert 0.04 <= time.monotonic() - started < 1
    started = time.monotonic()
    source.wait_for_mail(timeout=0)
    assert time.monotonic() - started < 0.04


def test_a_mail_left_in_the_inbox_behind_the_saved_delta_link_is_still_fetched(graph, graph_settings, naps):
    """The saved link has moved past a mail that is still in the Inbox (a state file from a
    backup, a move that never happened): the first round after a start lists the Inbox."""
    left = graph.add_message(deviation(1))
    graph_settings.data_dir.mkdir(parents=True)
    (graph_settings.data_dir / STATE_FILE).write_text(json.dumps(
        {"mailbox": graph.mailbox, "delta_link": graph.current_delta_link()}))

    source = open_source(graph_settings, graph, naps)
    assert [(sid, arrived) for _, arrived, sid, _ in source.fetch()] == [
        (left, datetime(2026, 11, 16, 7, 1, tzinfo=timezone.utc))]
    source.acknowledge(left)
    assert source.fetch() == []
    assert len(graph.graph_requests("GET", r"(?i)/mailFolders/inbox/messages$")) == 1  # listed once


def test_an_expired_delta_link_starts_over_with_the_whole_inbox(graph, graph_settings, naps):
    source = open_source(graph_settings, graph, naps)
    source.fetch()
    graph.forget_delta_links()          # Graph: 410 SyncStateNotFound
    new = graph.add_message(deviation(1))
    assert [sid for _, _, sid, _ in source.fetch()] == [new]


# ---------------------------------------------------------------------------- throttling, outages, tokens
def test_a_429_waits_as_long_as_retry_after_says_then_succeeds(graph, graph_settings, naps):
    graph.add_message(deviation(1))
    graph.fail_next(429, path=r"/\$value$", headers={"Retry-After": "2"})
    source = open_source(graph_settings, graph, naps)

    assert [raw for raw, *_ in source.fetch()] == [deviation(1)]
    assert naps == [2.0]
    assert [r.status for r in graph.graph_requests("GET", r"/\$value$")] == [429, 200]


def test_a_503_is_retried_with_growing_back_off(graph, graph_settings, naps):
    graph.add_message(deviation(1))
    graph.fail_next(503, path=r"/delta$", times=2)
    source = open_source(graph_settings, graph, naps)
    assert len(source.fetch()) == 1
    assert naps == [0.01, 0.02]


def test_an_outage_beyond_the_retries_is_a_clear_error_and_loses_nothing(graph, graph_settings, naps):
    graph.add_message(deviation(1))
    graph.fail_next(503, path=r"/delta$", times=4)
    source = open_source(graph_settings, graph, naps)
    with pytest.raises(MailSourceError, match="503"):
        source.fetch()
    assert len(source.fetch()) == 1


def test_a_long_retry_after_pauses_fetching_instead_of_blocking(graph, graph_settings, naps):
    graph.add_message(deviation(1))
    graph.fail_next(429, path=r"/delta$", headers={"Retry-After": "120"})
    source = open_source(graph_settings, graph, naps)
    with pytest.raises(MailSourceError, match="429.*120"):
        source.fetch()
    before = len(graph.requests)
    assert source.fetch() == []                         # still inside the 120 s
    assert len(graph.requests) == before and naps == []
    assert source.describe()["throttled_until"]


def test_an_expired_token_is_replaced_and_the_call_succeeds(graph, graph_settings, naps):
    source = open_source(graph_settings, graph, naps)
    source.fetch()
    graph.expire_tokens()
    new = graph.add_message(deviation(1))

    assert [sid for _, _, sid, _ in source.fetch()] == [new]
    assert graph.tokens_issued == 2
    assert 401 in [r.status for r in graph.graph_requests()]


def test_certificate_credentials_sign_in_with_msal(graph, settings, naps, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "avvikelsebot")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(datetime(2026, 1, 1)).not_valid_after(datetime(2036, 1, 1))
            .sign(key, hashes.SHA256()))
    pem = tmp_path / "avvikelsebot.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    graph.certificate_public_key = key.public_key()
    env = graph.env(GRAPH_CLIENT_SECRET=None, GRAPH_CERTIFICATE_PATH=str(pem),
                    GRAPH_CERTIFICATE_THUMBPRINT=hashlib.sha1(
                        cert.public_bytes(serialization.Encoding.DER)).hexdigest())
    graph.add_message(deviation(1))
    source = open_source(dataclasses.replace(settings, env=env), graph, naps)
    assert len(source.fetch()) == 1
    token_request = next(r for r in graph.requests if r.path.endswith("/token"))
    assert b"client_assertion=" in token_request.body and b"client_secret" not in token_request.body


# ---------------------------------------------------------------------------- sending
def test_sendmail_carries_the_exact_mime_with_the_threading_headers(graph, graph_settings):
    message = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    message["From"] = "registrator.vok@exempelby.se"
    message["To"] = "patientsakerhet@regionexempel.se"
    message["Subject"] = "SV: Avvikelse – utebliven insulindos [VOK 2026/0001]"
    message["Message-ID"] = "<vok-2026-0001.svar@exempelby.se>"
    message["In-Reply-To"] = "<avvikelse-1@regionexempel.se>"
    message["References"] = "<avvikelse-1@regionexempel.se>"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content("Hej,\n\nHär kommer enhetens svar på avvikelsen.\n")
    sender = GraphMailSender.from_settings(graph_settings, verify=graph.ca_path)

    assert sender.send(message) == "<vok-2026-0001.svar@exempelby.se>"

    [sent] = graph.sent
    assert sent == message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    parsed = email.message_from_bytes(sent, policy=email.policy.default)
    for header in ("In-Reply-To", "References", "Auto-Submitted", "X-Auto-Response-Suppress", "Subject"):
        assert parsed[header] == message[header]
    [post] = graph.graph_requests("POST", r"/sendMail$")
    assert post.headers["content-type"] == "text/plain"
    assert base64.b64decode(post.body) == sent


def test_a_refused_send_is_a_delivery_error_with_retry_after(graph, graph_settings):
    graph.fail_next(429, path=r"/sendMail$", headers={"Retry-After": "300"})
    sender = GraphMailSender.from_settings(graph_settings, verify=graph.ca_path)
    message = EmailMessage()
    message["Subject"] = "VOK 2026/0001"
    message.set_content("x")
    with pytest.raises(DeliveryError) as refused:
        sender.send(message)
    assert refused.value.retry_after == 300 and graph.sent == []


# ---------------------------------------------------------------------------- check-config --online
def test_check_online_passes_with_working_credentials(graph, graph_settings):
    results = check_online(graph_settings, verify=graph.ca_path)
    assert [ok for ok, _ in results] == [True, True, True]
    assert "registrator.vok@exempelby.se" in results[-1][1]


def test_check_online_names_the_missing_mailbox_permission(graph, graph_settings):
    graph.deny_mailbox = True
    results = check_online(graph_settings, verify=graph.ca_path)
    assert results[0][0] is True                         # signing in works
    ok, text = results[-1]
    assert not ok and "403" in text and "Mail.ReadWrite" in text and "ApplicationAccessPolicy" in text


def test_check_online_names_a_missing_application_permission(graph, graph_settings):
    graph.roles = ("Mail.ReadWrite",)
    results = check_online(graph_settings, verify=graph.ca_path)
    assert (False, ("Graph: appen saknar applikationsbehörigheten Mail.Send – lägg till den i "
                    "appregistreringen och ge administratörsmedgivande")) in results


def test_check_online_says_the_tenant_does_not_exist(graph, settings):
    env = graph.env(GRAPH_TENANT_ID="exempelby-fel.onmicrosoft.com")
    [(ok, text)] = check_online(dataclasses.replace(settings, env=env), verify=graph.ca_path)
    assert not ok and "exempelby-fel.onmicrosoft.com" in text and "AADSTS90002" in text


def test_check_online_says_the_client_secret_is_wrong(graph, settings):
    env = graph.env(GRAPH_CLIENT_SECRET="fel-hemlighet")
    [(ok, text)] = check_online(dataclasses.replace(settings, env=env), verify=graph.ca_path)
    assert not ok and "GRAPH_CLIENT_SECRET" in text and "AADSTS7000215" in text
    assert "fel-hemlighet" not in text


def test_check_online_says_the_mailbox_does_not_exist(graph, settings):
    env = graph.env(GRAPH_MAILBOX="finns.inte@exempelby.se")
    ok, text = check_online(dataclasses.replace(settings, env=env), verify=graph.ca_path)[-1]
    assert not ok and "404" in text and "finns.inte@exempelby.se" in text


# ---------------------------------------------------------------------------- configuration
def test_configuration_names_the_missing_variable(settings):
    with pytest.raises(ConfigError) as error:
        GraphConfig.from_settings(dataclasses.replace(settings, env={"GRAPH_TENANT_ID": "t"}))
    assert error.value.key == "GRAPH_CLIENT_ID"


def test_national_clouds_sign_in_at_their_own_authority(settings):
    env = {"GRAPH_TENANT_ID": "t", "GRAPH_CLIENT_ID": "c", "GRAPH_CLIENT_SECRET": "s",
           "GRAPH_BASE_URL": "https://graph.microsoft.us"}
    config = GraphConfig.from_settings(dataclasses.replace(settings, env=env))
    assert config.authority == "https://login.microsoftonline.us/t"
    assert config.base_url == "https://graph.microsoft.us/"
    assert config.mailbox == "registrator.vok@exempelby.se"            # org.mailbox by default
    with pytest.raises(ConfigError) as error:
        GraphConfig.from_settings(dataclasses.replace(
            settings, env={**env, "GRAPH_BASE_URL": "https://graph.example.net/"}))
    assert error.value.key == "GRAPH_AUTHORITY_URL"


# ---------------------------------------------------------------------------- the whole bot
def test_the_bot_diarises_a_deviation_from_the_graph_mailbox_and_files_it(
        graph, graph_settings, clock, notifier, naps):
    raw = (FIXTURES / "mail" / "incoming_region.eml").read_bytes()
    message_id = graph.add_message(raw, received=datetime(2026, 11, 16, 7, 12, 40, tzinfo=timezone.utc))
    bot = build(graph_settings, mail=open_source(graph_settings, graph, naps),
                sender=GraphMailSender.from_settings(graph_settings, verify=graph.ca_path),
                notifiers={"console": notifier}, clock=clock)
    try:
        [result] = bot.poll_mailbox()
        bot.services.deliver_outbox()
        assert (result["outcome"], result["diary_number"], result["unit"], result["severity"]) == (
            "new_case", "VOK 2026/0001", "hemtjanst-norr", "yellow")
        assert graph.folder_of(message_id) == "Diarierat"
        case = bot.services.status_json(bot.store.get_case_by_text("VOK 2026/0001"))
        assert case["documents"][0]["received"].startswith("2026-11-16T07:12:40")  # Graph's time
        assert [n["diary_number"] for n in notifier.to("anna")] == ["VOK 2026/0001"]
        assert bot.poll_mailbox() == []                  # filed: not diarised twice
    finally:
        bot.close()


def test_neither_the_secret_nor_a_token_nor_mail_content_reaches_the_log(graph, graph_settings, naps, caplog):
    caplog.set_level("DEBUG")
    graph.add_message(deviation(1))
    source = open_source(graph_settings, graph, naps)
    for _, _, source_id, _ in source.fetch():
        source.acknowledge(source_id)
    graph.expire_tokens()
    assert source.fetch() == []
    text = caplog.text
    assert graph.client_secret not in text
    assert graph.tokens_issued == 2 and not any(token in text for token in graph.issued_tokens())
    assert "insulindos" not in text and "Allvarlighetsgrad" not in text
