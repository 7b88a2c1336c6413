"""Rule 2c, pure: an answer to one of our e-mail notifications is a command (from a verified
person of ours) or goes to the registrator; it never joins the case it names."""
from __future__ import annotations

import dataclasses

from bot.chat.email import answer_commands, notification_message_id
from bot.mail.classify import (ADDED, COMMAND, TRIAGE, CaseRef, answers_notification,
                               classify, command_in_answer, first_own_line)
from bot.mail.parse import parse_mail
from tests.fakes.mail import make_mail

ANNA = "Anna Andersson <anna.andersson@exempelby.se>"
NOTICE_ID = notification_message_id("VOK 2026/0001:incoming_diarised:1:anna", "registrator.vok@exempelby.se")
SUBJECT = "SV: VOK 2026/0001 Ny inkommande avvikelse från Region Exempel"


class Diary:
    def seen(self, key): return False
    def seen_hash(self, key): return None
    def by_number(self, number):
        return CaseRef("VOK 2026/0001", "incoming", "hemtjanst_norr", "region")
    def by_message_ids(self, ids): return None
    def by_conversation(self, cid): return None


def trusted(org):
    return dataclasses.replace(org, trusted_authserv_ids=("mx.exempelby.se",))


def reply(body: str, *, dmarc: str | None = "pass", sender: str = ANNA,
          in_reply_to: str | None = NOTICE_ID, subject: str = SUBJECT):
    raw = make_mail(sender=sender, subject=subject, body=body, in_reply_to=in_reply_to)
    if dmarc:
        domain = sender.rsplit("@", 1)[1].strip(">")
        raw = (f"Authentication-Results: mx.exempelby.se; dmarc={dmarc} header.from={domain}\r\n"
               "Received: from ws-1.example (ws-1.example [198.51.100.7])\r\n"
               "\tby mx.exempelby.se (Postfix); Mon, 16 Nov 2026 10:00:00 +0100\r\n").encode() + raw
    return parse_mail(raw)


def test_a_verified_managers_one_word_answer_is_the_command_with_the_case_filled_in(org):
    decision = classify(reply("Registrerad\n\n> Ny inkommande avvikelse"), trusted(org), Diary())
    assert decision.outcome == COMMAND
    assert decision.command == "registrerad VOK 2026/0001"
    assert decision.person == "anna"


def test_words_after_the_verb_keep_their_place(org):
    assert command_in_answer("bedöm gul", SUBJECT, org)[0] == "bedöm VOK 2026/0001 gul"
    assert command_in_answer("Åtgärd klar 2", SUBJECT, org)[0] == "åtgärd klar VOK 2026/0001 2"
    assert command_in_answer("avfärda", "Ett mejl behöver din bedömning [Tab12cd34]",
                             org)[0] == "avfärda Tab12cd34"
    assert command_in_answer("koppla", "VOK 2026/0001 Ett mejl behöver din bedömning [Tab12cd34]",
                             org)[0] == "koppla Tab12cd34 VOK 2026/0001"
    assert command_in_answer("Hej! Här är vårt svar.", SUBJECT, org) is None


def test_an_answer_that_is_not_a_command_goes_to_the_registrator_not_into_the_case(org):
    decision = classify(reply("Hej, här är Hemtjänst Norrs svar: vi har utrett händelsen."),
                        trusted(org), Diary())
    assert decision.outcome == TRIAGE
    assert "svar på en avisering" in decision.reason
    assert decision.case.number == "VOK 2026/0001"        # suggested: one click to add it


def test_an_unverified_sender_does_not_run_a_command(org):
    # no trusted receiver configured: From: alone proves nothing
    decision = classify(reply("registrerad", dmarc=None), org, Diary())
    assert decision.outcome == TRIAGE
    assert "kördes inte" in decision.reason and "kunde inte styrkas" in decision.reason


def test_a_forged_answer_is_triaged_with_the_receivers_verdict(org):
    decision = classify(reply("registrerad", dmarc="fail"), trusted(org), Diary())
    assert decision.outcome == TRIAGE and "dmarc=fail" in decision.reason


def test_a_stranger_answering_a_forwarded_notification_runs_nothing(org):
    decision = classify(reply("registrerad", sender="Okänd <nisse@exempelby.se>"), trusted(org), Diary())
    assert decision.outcome == TRIAGE and "kördes inte" in decision.reason


def test_a_mail_with_the_number_that_answers_no_notification_still_joins_the_case(org):
    decision = classify(reply("Här kommer vårt svar.", in_reply_to=None), trusted(org), Diary())
    assert decision.outcome == ADDED


def test_a_notification_id_of_another_domain_is_not_ours(org):
    foreign = NOTICE_ID.replace("exempelby.se", "annanstans.example")
    assert not answers_notification(reply("registrerad", in_reply_to=foreign), org)
    assert answers_notification(reply("registrerad", in_reply_to=None,
                                      subject="[kommando] registrerad VOK 2026/0001"), org)


def test_the_first_own_line_skips_blank_lines_and_stops_at_the_quote():
    assert first_own_line("\n\n  avsluta  \n> registrerad") == "avsluta"
    assert first_own_line("> registrerad VOK 2026/0001\nhej") == ""
    assert first_own_line("Den 16 nov 2026 skrev Avvikelsebot:\n> registrerad") == ""


def test_answer_words_leave_out_the_number_and_free_text_buttons():
    view = {"actions": [{"command": "registrerad VOK 2026/0001"},
                        {"command": "bedöm VOK 2026/0001 röd"},
                        {"command": "snooza VOK 2026/0001 {until} {reason}"}]}
    assert [c["word"] for c in answer_commands(view, "VOK 2026/0001")] == ["registrerad", "bedöm röd"]
