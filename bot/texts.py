"""The message catalog: every user-facing text, Swedish first, English by configuration.

t(lang, key, **values) formats one entry; a key missing in English falls back to Swedish.
Values that came from outside (titles, names) are already redacted by the caller.
"""
from __future__ import annotations

from datetime import date

SV: dict[str, str] = {
    # --- words -------------------------------------------------------------------------
    "kind_incoming": "Inkommande avvikelse",
    "kind_outgoing": "Utgående avvikelse",
    "severity_red": "Röd", "severity_yellow": "Gul", "severity_green": "Grön",
    "severity_none": "Ej bedömd",
    "status_diarised": "Diarierad", "status_registered": "Registrerad i verksamhetssystemet",
    "status_response_received": "Svar inkommet", "status_response_sent": "Svar skickat",
    "status_sent": "Skickad till motparten", "status_closed": "Avslutad",
    "unknown_unit": "okänd enhet", "unknown_counterpart": "okänd motpart",
    "doc_deviation": "avvikelse", "doc_response": "svar", "doc_supplement": "komplettering",
    "doc_sent": "skickat",
    "step_register": "registrera i verksamhetssystemet",
    "step_respond": "utreda, bedöma och svara",
    "step_send_response": "skicka svaret till motparten",
    "step_close": "följa upp och avsluta",
    "step_send": "skicka avvikelsen till motparten",
    "step_external_response": "motpartens svar",
    "label_kind": "Typ", "label_counterpart": "Motpart", "label_unit": "Enhet",
    "label_severity": "Allvarlighetsgrad", "label_status": "Status",
    "label_todo": "Att göra", "label_info": "För kännedom",
    "label_commands": "Kommandon",
    "label_deadline": "Nästa steg", "label_documents": "Handlingar", "label_actions": "Åtgärder",
    "label_events": "Händelser",
    "date_format": "{weekday} {day} {month}",
    # --- notifications: the first line per event --------------------------------------------
    "event_incoming_diarised": "Ny avvikelse från {counterpart} diarierad för {unit}",
    "event_incoming_diarised_no_unit": "Ny avvikelse från {counterpart} diarierad – enheten är okänd",
    "event_outgoing_diarised": "Utgående avvikelse diarierad för {unit}",
    "event_response_incoming": "Enhetens svar diarierat för {unit}",
    "event_response_outgoing": "Svar från {counterpart} diarierat för {unit}",
    "event_supplement": "Komplettering diarierad för {unit}",
    "event_unit_assigned": "Avvikelse från {counterpart} flyttad till {unit}",
    "event_triage": "Ett mejl behöver din bedömning",
    # --- notifications: what the recipient is asked to do ------------------------------------
    "todo_register": "Registrera avvikelsen i verksamhetssystemet senast {deadline}, och bedöm allvarlighetsgraden.",
    "todo_pick_unit": "Välj enhet, så får enhetschefen avvikelsen.",
    "todo_send": "Skicka avvikelsen till {counterpart} senast {deadline}.",
    "todo_send_response": "Skicka svaret vidare till {counterpart} senast {deadline}.",
    "todo_close": "För in svaret i verksamhetssystemet och avsluta ärendet senast {deadline}.",
    "todo_supplement": "Läs kompletteringen i verksamhetssystemet eller hos registrator.",
    "todo_respond": "Utred, bedöm och svara senast {deadline}.",
    "todo_counterpart_unknown": "Motparten är okänd: ange den med `motpart {number} <motpart>`.",
    "info_line": "du behöver inte göra något.",
    "cmd_register": "registrerad {number}",
    "cmd_assess": "bedöm {number} röd|gul|grön",
    "cmd_send": "skicka {number}",
    "cmd_mark_sent": "skickad {number}",
    "cmd_close": "avsluta {number}",
    "cmd_unit": "enhet {number} <enhet>",
    "cmd_status": "status {number}",
    # --- reminders, escalations, digest -------------------------------------------------------
    "event_reminder": "Påminnelse: {step} är försenat",
    "event_escalation": "Eskalering: {step} för {unit} är försenat",
    "event_digest": "Veckoöversikt – öppna ärenden: {count}, varav försenade: {overdue}",
    "reminder_line": "{step_cap} skulle ha gjorts senast {deadline}.",
    "todo_reminder": "Gör det nu – eller pausa påminnelserna med snooza och en orsak.",
    "escalation_line": "{step_cap} skulle ha gjorts senast {deadline}; ansvarig: {owners}. Påminnelser har skickats utan åtgärd.",
    "action_step": "åtgärd {no} «{text}»",
    "todo_action": "Gör åtgärden och markera den klar.",
    "todo_external_response": "Motparten har inte svarat. Påminn dem, eller avsluta med en orsak.",
    "todo_escalation": "Hör med den ansvariga, eller gör steget själv.",
    "todo_digest": "Försenade ärenden först.",
    "cmd_snooze": "snooza {number} ÅÅÅÅ-MM-DD <orsak>",
    "cmd_action_done": "åtgärd klar {number} {no}",
    "cli_reminder_line": "{due} {level} till {recipient}: {number} steg {step} (senast {deadline})",
    "level_reminder": "påminnelse", "level_escalation": "eskalering",
    # --- triage ----------------------------------------------------------------------------
    "triage_text": "Mejl från {sender} med ämnet «{subject}» kunde inte diarieras automatiskt: {reason}.",
    "triage_todo": "Välj: diarieför som ny avvikelse, lägg till i ett ärende, eller markera som ej avvikelse.",
    "triage_suggest": "Föreslaget ärende: {number}.",
    # --- intake reasons ----------------------------------------------------------------------
    "reason_duplicate": "samma mejl är redan hanterat ({key})",
    "reason_own_address": "skickat från botens egen adress",
    "reason_auto": "automatiskt mejl ({why})",
    "reason_new_incoming": "avvikelse från extern avsändare {sender}",
    "reason_new_counterpart": "avsändaren hör till motparten {counterpart}",
    "reason_new_outgoing": "avvikelse från intern avsändare {sender}",
    "reason_number": "diarienummer {number} i mejlet",
    "reason_thread": "svar i samma tråd som ärendet {number}",
    "reason_conversation": "samma konversation som ärendet {number}",
    "reason_unknown_number": "diarienumret {number} finns inte",
    "reason_foreign_sender": "avsändaren {sender} hör inte till ärendet {number}",
    "reason_not_deviation": "inget som liknar en avvikelse, och avsändaren är ingen känd motpart",
    "reason_forward_unreadable": "vidarebefordrat av registrator men originalet gick inte att läsa ut",
    "reason_override_unit": "enheten {unit} angiven av registrator är okänd",
    "reason_closed_case": "ärendet {number} är avslutat",
    # --- refusals (DomainError / PermissionDenied) --------------------------------------------
    "denied_unknown": "Du finns inte i organisationens katalog, så jag kan inte visa eller ändra ärenden. Kontakta registrator.",
    "denied_view": "Du har inte behörighet till {number}.",
    "denied_manage": "Bara enhetens chef, registrator, MA eller SAS får ändra {number}.",
    "denied_close": "Bara enhetens chef, registrator, MA eller SAS får avsluta {number}.",
    "denied_send": "Bara registrator skickar {number} till motparten.",
    "denied_mark_sent": "Bara registrator, MA eller SAS kan markera {number} som skickat.",
    "denied_route": "Bara registrator, MA eller SAS kan ändra enhet eller motpart för {number}.",
    "refused_closed": "{number} är redan avslutat.",
    "refused_register_outgoing": "{number} är en utgående avvikelse; den registreras inte av enheten.",
    "refused_already_registered": "{number} är redan registrerat.",
    "refused_severity": "Allvarlighetsgraden ska vara röd, gul eller grön.",
    "refused_already_sent": "{number} är redan skickat.",
    "refused_no_response": "Enhetens svar i {number} har inte kommit in ännu, så det finns inget att skicka. Har svaret gått iväg på annat sätt: skriv `skickad {number}`.",
    "refused_close_early_role": "{number} kan inte avslutas ännu. Bara registrator, MA eller SAS kan avsluta i förtid, med en orsak.",
    "refused_close_early_reason": "Ange en orsak när {number} avslutas i förtid, t.ex. `avsluta {number} felaktigt diarierad`.",
    "refused_close_open_actions": "{number} har öppna åtgärder: {actions}. Markera dem klara eller ange en orsak för att avsluta ändå.",
    "refused_action_text": "Skriv vad åtgärden är.",
    "refused_no_such_action": "{number} har ingen åtgärd nr {no}.",
    "refused_action_done": "Åtgärd {no} i {number} är redan klar.",
    "refused_unknown_unit": "Enheten «{unit}» finns inte.",
    "refused_unknown_counterpart": "Motparten «{counterpart}» finns inte.",
    "refused_title": "Rubriken kan inte vara tom.",
    "refused_snooze_reason": "Ange en orsak till att påminnelserna pausas.",
    "refused_snooze_past": "Datumet måste ligga framåt i tiden.",
    "refused_no_case": "Ärendet {number} finns inte.",
    "refused_no_counterpart_address": "{number} saknar motpart med e-postadress; ange motpart först.",
    "refused_no_sender": "Ingen e-postsändning är inställd. Skicka själv och skriv `skickad {number}`.",
    # --- confirmations ---------------------------------------------------------------------------
    "done_registered": "{number} är markerat som registrerat i verksamhetssystemet.",
    "done_assessed": "{number} är bedömt som {severity}.",
    "done_marked_sent": "{number} är markerat som skickat.",
    "done_sent": "{number} är skickat till {address}.",
    "done_closed": "{number} är avslutat.",
    "done_action_added": "Åtgärd {no} är tillagd i {number}.",
    "done_action_done": "Åtgärd {no} i {number} är klar.",
    "done_unit": "{number} hör nu till {unit}.",
    "done_counterpart": "{number} har nu motparten {counterpart}.",
    "done_title": "Rubriken för {number} är ändrad.",
    "done_snoozed": "Påminnelser för {number} är pausade till {until}.",
    "done_subscribed": "Du får nu kopior för kännedom från {units}.",
    "done_unsubscribed": "Du får inte längre kopior från {units}.",
    "not_subscribed": "Du prenumererar inte på {units}.",
    "denied_subscribe": "Du kan inte följa {units}: en chef följer sina egna enheter, registrator, MA och SAS kan följa alla.",
    "all_units": "alla enheter",
    # --- chat answers ------------------------------------------------------------------------
    "no_cases": "Inga ärenden.",
    "list_header": "Ärenden ({count}):",
    "overdue_mark": "FÖRSENAT",
    "help": (
        "Så här pratar du med Avvikelsebot:\n"
        "  status <dnr> – läget i ett ärende\n"
        "  mina – mina öppna ärenden\n"
        "  öppna [enhet] – öppna ärenden\n"
        "  försenade – ärenden där nästa steg är försenat\n"
        "  registrerad <dnr> – avvikelsen är registrerad i verksamhetssystemet\n"
        "  bedöm <dnr> röd|gul|grön – sätt allvarlighetsgrad\n"
        "  skicka <dnr> – (registrator) skicka till motparten\n"
        "  skickad <dnr> – markera som skickat utanför boten\n"
        "  avsluta <dnr> [orsak] – avsluta ärendet\n"
        "  åtgärd <dnr> <text> [senast ÅÅÅÅ-MM-DD] – lägg till en åtgärd\n"
        "  åtgärd klar <dnr> <nr> – markera en åtgärd som klar\n"
        "  enhet <dnr> <enhet> – byt enhet\n"
        "  motpart <dnr> <motpart> – ange motpart\n"
        "  rubrik <dnr> <text> – ändra rubriken\n"
        "  snooza <dnr> <datum> <orsak> – pausa påminnelser till ett datum\n"
        "  prenumerera <enhet|alla> – få kopior för kännedom\n"
        "  avprenumerera <enhet|alla> – sluta få kopior\n"
        "  hjälp – den här texten\n"
        "Diarienummer kan skrivas VOK 2026/0042, 2026/42 eller vok-2026-0042."
    ),
    "unknown_command": "Jag förstod inte «{word}».",
    "did_you_mean": "Menade du «{suggestion}»?",
    "usage": "Så här: {usage}",
    "bad_number": "«{text}» är inget diarienummer. Skriv t.ex. VOK 2026/0042 eller 2026/42.",
    "bad_date": "«{text}» är inget datum. Skriv ÅÅÅÅ-MM-DD.",
    "bad_unit": "Enheten «{text}» finns inte. Enheter: {units}.",
    "bad_action_no": "«{text}» är inget åtgärdsnummer.",
    "missing_number": "Ange ett diarienummer, t.ex. VOK 2026/0042 eller 2026/42.",
    "missing_date": "Ange ett datum, ÅÅÅÅ-MM-DD.",
    "missing_unit": "Ange en enhet. Enheter: {units}.",
    "missing_action_no": "Ange åtgärdens nummer.",
    "bad_counterpart": "Motparten «{text}» finns inte. Motparter: {counterparts}.",
    "status_deadline": "{step} senast {deadline}",
    "status_deadline_overdue": "{step} senast {deadline} – FÖRSENAT",
    # --- CLI -------------------------------------------------------------------------------------
    "cli_ingested": "{file}: {outcome} {number} – {reason}",
    "cli_outbox_line": "[{state}] {created} till {recipient} ({channel}) {number}: {event}",
    "cli_console_to": "── Till {name} ({role}) via {channel} ──",
    "role_act": "att göra", "role_info": "för kännedom",
    "outcome_new_case": "nytt ärende", "outcome_added_to_case": "tillagt i ärende",
    "outcome_duplicate": "dubblett", "outcome_ignored": "ignorerat", "outcome_triage": "triage",
}

EN: dict[str, str] = {
    "kind_incoming": "Incoming deviation", "kind_outgoing": "Outgoing deviation",
    "severity_red": "Red", "severity_yellow": "Yellow", "severity_green": "Green",
    "severity_none": "Not assessed",
    "status_diarised": "Diarised", "status_registered": "Registered in the operations system",
    "status_response_received": "Response received", "status_response_sent": "Response sent",
    "status_sent": "Sent to the counterpart", "status_closed": "Closed",
    "unknown_unit": "unknown unit", "unknown_counterpart": "unknown counterpart",
    "label_kind": "Kind", "label_counterpart": "Counterpart", "label_unit": "Unit",
    "label_severity": "Severity", "label_status": "Status", "label_todo": "To do",
    "label_info": "For information", "label_commands": "Commands", "label_deadline": "Next step",
    "step_register": "register in the operations system", "step_respond": "investigate, assess and respond",
    "step_send_response": "send the response to the counterpart", "step_close": "follow up and close",
    "step_send": "send the deviation to the counterpart", "step_external_response": "the counterpart's response",
    "date_format": "{weekday} {day} {month}",
    "event_incoming_diarised": "New deviation from {counterpart} diarised for {unit}",
    "event_incoming_diarised_no_unit": "New deviation from {counterpart} diarised – unit unknown",
    "event_outgoing_diarised": "Outgoing deviation diarised for {unit}",
    "event_response_incoming": "The unit's response diarised for {unit}",
    "event_response_outgoing": "Response from {counterpart} diarised for {unit}",
    "event_supplement": "Supplement diarised for {unit}",
    "event_unit_assigned": "Deviation from {counterpart} moved to {unit}",
    "event_triage": "A mail needs your decision",
    "todo_register": "Register the deviation in the operations system by {deadline}, and assess its severity.",
    "todo_pick_unit": "Pick the unit, so its manager gets the deviation.",
    "todo_send": "Send the deviation to {counterpart} by {deadline}.",
    "todo_send_response": "Send the response on to {counterpart} by {deadline}.",
    "todo_close": "Enter the response in the operations system and close the case by {deadline}.",
    "todo_respond": "Investigate, assess and respond by {deadline}.",
    "info_line": "nothing for you to do.",
    "event_reminder": "Reminder: {step} is overdue",
    "event_escalation": "Escalation: {step} for {unit} is overdue",
    "event_digest": "Weekly overview – open cases: {count}, overdue: {overdue}",
    "reminder_line": "{step_cap} was due by {deadline}.",
    "todo_reminder": "Do it now – or pause the reminders with snooze and a reason.",
    "escalation_line": "{step_cap} was due by {deadline}; owner: {owners}. Reminders were sent without result.",
    "help": "Commands (Swedish words, English aliases): status, mine, open, overdue, registered, assess, send, sent, close, action, unit, counterpart, title, snooze, subscribe, unsubscribe, help.",
    "unknown_command": "I did not understand «{word}».",
    "did_you_mean": "Did you mean «{suggestion}»?",
    "no_cases": "No cases.",
}

CATALOG = {"sv": SV, "en": EN}

WEEKDAYS = {"sv": ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag"),
            "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")}
MONTHS = {"sv": ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
                 "september", "oktober", "november", "december"),
          "en": ("January", "February", "March", "April", "May", "June", "July", "August",
                 "September", "October", "November", "December")}


def t(lang: str, key: str, /, **values: object) -> str:
    template = CATALOG.get(lang, SV).get(key) or SV.get(key)
    if template is None:
        raise KeyError(f"no text {key!r} in the catalog")
    return template.format(**values) if values else template


def long_date(lang: str, day: date) -> str:
    """'fredag 4 december' – how people say a deadline."""
    lang = lang if lang in WEEKDAYS else "sv"
    return t(lang, "date_format", weekday=WEEKDAYS[lang][day.weekday()], day=day.day,
             month=MONTHS[lang][day.month - 1])
