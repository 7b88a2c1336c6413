"""A reply with a new topic is not a supplement: a counterpart who opens a new deviation by
answering the last mail (and editing the subject) gets a case of its own, through triage."""
from __future__ import annotations

from bot.mail.classify import ADDED, TRIAGE, CaseRef, classify
from bot.mail.parse import parse_mail
from tests.fakes.mail import make_mail

LISA = "Lisa Larsson <lisa.larsson@regionexempel.se>"
OLD = "<old-1@regionexempel.se>"
CASE = CaseRef("VOK 2026/0007", "incoming", "hemtjanst-norr", "region-exempel",
               title="Utebliven insulindos, Hemtjänst Norr")


class Thread:
    def seen(self, key): return False
    def seen_hash(self, key): return None
    def by_number(self, number): return CASE
    def by_message_ids(self, ids): return CASE if OLD.strip("<>") in ids else None
    def by_conversation(self, cid): return None


def answer(subject: str, body: str):
    return parse_mail(make_mail(sender=LISA, subject=subject, body=body, in_reply_to=OLD))


def test_a_new_subject_about_another_unit_goes_to_triage_with_the_case_suggested(org):
    mail = answer("SV: Fallolycka på Solgårdens särskilda boende",
                  "Hej, nu gäller det en fallolycka på Solgården i natt.\n\n"
                  "Den 10 nov 2026 skrev Rut:\n> Utebliven insulindos, Hemtjänst Norr")
    decision = classify(mail, org, Thread())
    assert decision.outcome == TRIAGE
    assert decision.case == CASE
    assert "Solgårdens" in decision.reason and "VOK 2026/0007" in decision.reason


def test_words_that_say_it_is_new_are_enough(org):
    mail = answer("SV: Läkemedel saknades vid hembesök",
                  "Hej! Det här är en ny avvikelse, inte samma som förra.\n\n> gammalt")
    decision = classify(mail, org, Thread())
    assert decision.outcome == TRIAGE and "ny avvikelse" in decision.reason


def test_an_answer_on_the_cases_own_topic_is_still_a_supplement(org):
    mail = answer("SV: Utebliven insulindos, Hemtjänst Norr",
                  "Vi har en ny uppgift om händelsen: dosen gavs två timmar sent.")
    assert classify(mail, org, Thread()).outcome == ADDED


def test_a_new_subject_alone_is_still_a_supplement(org):
    mail = answer("SV: Kompletterande uppgifter", "Här kommer journalutdraget ni bad om.")
    assert classify(mail, org, Thread()).outcome == ADDED


def test_a_unit_named_only_in_the_quoted_mail_does_not_count(org):
    mail = answer("SV: Kompletterande uppgifter",
                  "Här kommer journalutdraget.\n\n> Gäller även Hemtjänst Söder enligt er")
    assert classify(mail, org, Thread()).outcome == ADDED


def test_a_diary_number_in_the_subject_wins(org):
    mail = answer("SV: VOK 2026/0007 Fallolycka på Solgården", "Ny uppgift om Solgården.")
    assert classify(mail, org, Thread()).outcome == ADDED
