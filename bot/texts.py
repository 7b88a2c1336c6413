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
        "  diarisera <triage-id> [enhet] – (registrator, MA, SAS) diarieför ett mejl i triage\n"
        "  koppla <triage-id> <dnr> – lägg ett mejl i triage till ett ärende\n"
        "  avfärda <triage-id> [orsak] – ett mejl i triage är ingen avvikelse\n"
        "  hjälp – den här texten\n"
        "Diarienummer kan skrivas VOK 2026/0042, 2026/42 eller vok-2026-0042."
    ),
    "unknown_command": "Jag förstod inte «{word}».",
    "did_you_mean": "Menade du «{suggestion}»?",
    "usage_status": "status <dnr>", "usage_register": "registrerad <dnr>",
    "usage_assess": "bedöm <dnr> röd|gul|grön", "usage_send": "skicka <dnr>",
    "usage_mark_sent": "skickad <dnr>", "usage_close": "avsluta <dnr> [orsak]",
    "usage_action": "åtgärd <dnr> <text> [senast ÅÅÅÅ-MM-DD] · åtgärd klar <dnr> <nr>",
    "usage_unit": "enhet <dnr> <enhet>", "usage_counterpart": "motpart <dnr> <motpart>",
    "usage_title": "rubrik <dnr> <text>", "usage_snooze": "snooza <dnr> <ÅÅÅÅ-MM-DD> <orsak>",
    "usage_subscribe": "prenumerera <enhet|alla>", "usage_unsubscribe": "avprenumerera <enhet|alla>",
    "usage_open": "öppna [enhet]",
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
    "cli_config_error": "fel i konfigurationen: {error}",
    "cli_watching": "Avvikelsebot bevakar {inbox} – stoppa med Ctrl-C.",
    "cli_stopped": "Avvikelsebot har stoppat.",
    "cli_missing_file": "filen finns inte: {files}",
    "cli_bad_number": "«{text}» är inget diarienummer (t.ex. VOK 2026/0042)",
    "cli_no_case": "ärendet {number} finns inte",
    "cli_unknown_unit": "okänd enhet «{unit}»",
    "cli_outbox_empty": "Inga aviseringar.",
    "cli_report_header": "Rapport {year} – {count} ärenden",
    "cli_report_all_years": "alla år",
    "cli_report_step": "steg {step}: median {median} dagar, 90:e percentilen {p90} dagar ({count} ärenden)",
    "cli_report_overdue": "försenade nu: {numbers}",
    "cli_none": "inga",
    "cli_bad_time": "«{text}» är ingen tid: skriv ÅÅÅÅ-MM-DD eller ÅÅÅÅ-MM-DDTHH:MM",
    "cli_outside_hours": "{moment} ligger utanför kontorstid: inget skickas då.",
    "cli_reminder": "{due} {level} till {recipient}: {number} {step}{sent}",
    "cli_already_sent": " (redan skickad)",
    "cli_no_reminders": "Inga påminnelser.",
    "level_digest": "veckoöversikt",
    "cli_warn_teams_anonymous": "TEAMS_ANONYMOUS=true: Teams-anrop kontrolleras INTE – bara för lokal utveckling!",
    "cli_warn_no_manager": "enheten {unit} har ingen chef: dess ärenden går till registrator",
    "cli_warn_no_address": "motparten {counterpart} saknar address: skicka fungerar inte för den",
    "cli_config_ok": "Konfigurationen {path} är giltig.",
    "cli_config_summary": "{name}: {people} personer, {units} enheter, {counterparts} motparter, diarieserie {series}",
    "cli_mailbox": "brevlåda: {source}",
    "cli_channel": "{name}: {state}",
    "cli_on": "på", "cli_off": "av",
    "cli_warning": "VARNING: {warning}",
    # --- triage and buttons ---------------------------------------------------------------
    "usage_triage_new": "diarisera <triage-id> [enhet]",
    "usage_triage_attach": "koppla <triage-id> <dnr>",
    "usage_triage_dismiss": "avfärda <triage-id> [orsak]",
    "missing_triage_id": "Ange mejlets triage-id, till exempel T1a2b3c4d.",
    "bad_triage_id": "«{text}» är inget triage-id (till exempel T1a2b3c4d).",
    "refused_no_triage": "Det finns inget mejl i triage med id {id}.",
    "refused_triage_done": "Mejlet {id} är redan hanterat ({what}, {who}).",
    "denied_triage": "Bara registrator, MA och SAS kan hantera mejl i triage.",
    "triage_done_new": "diarierat som {number}", "triage_done_attach": "lagt till i {number}",
    "triage_done_dismiss": "ingen avvikelse",
    "done_triage_new": "Mejlet {id} är diariefört som {number}.",
    "done_triage_attach": "Mejlet {id} är tillagt i {number}.",
    "done_triage_dismiss": "Mejlet {id} är markerat som ingen avvikelse.",
    "triage_id_line": "Triage-id: {id}.",
    "cmd_triage_new": "diarisera {id} <enhet>", "cmd_triage_attach": "koppla {id} <dnr>",
    "cmd_triage_dismiss": "avfärda {id}",
    "btn_register": "Registrerad", "btn_assess_green": "Bedöm Grön",
    "btn_assess_yellow": "Bedöm Gul", "btn_assess_red": "Bedöm Röd", "btn_send": "Skicka",
    "btn_mark_sent": "Skickad på annat sätt", "btn_close": "Avsluta", "btn_snooze": "Snooza",
    "btn_unit": "Välj enhet", "btn_action_done": "Åtgärd {no} klar",
    "btn_triage_new": "Diarieför som ny avvikelse", "btn_triage_attach": "Lägg till i {number}",
    "btn_triage_dismiss": "Ingen avvikelse",
    "snooze_default_reason": "snoozad från chatten",
    "event_unreachable": "{name} kan inte nås i {channel}",
    "unreachable_text": "{name} har inte öppnat Avvikelsebot i {channel} än, så boten kan inte skriva dit. Notiserna till {name} går med {fallback} tills vidare.",
    "todo_unreachable": "Be {name} att öppna Avvikelsebot i {channel} en gång (eller kontrollera personens id i organisationsfilen).",
    "channel_slack": "Slack", "channel_teams": "Teams", "channel_email": "e-post", "channel_console": "konsolen",
    # --- mail sources and e-mail notifications (Graph, IMAP/SMTP) -------------------------
    # --- Slack ----------------------------------------------------------------------------
    # --- Teams ----------------------------------------------------------------------------
}

EN: dict[str, str] = {
    # --- words -------------------------------------------------------------------------
    "kind_incoming": "Incoming deviation", "kind_outgoing": "Outgoing deviation",
    "severity_red": "Red", "severity_yellow": "Yellow", "severity_green": "Green",
    "severity_none": "Not assessed",
    "status_diarised": "Diarised", "status_registered": "Registered in the operations system",
    "status_response_received": "Response received", "status_response_sent": "Response sent",
    "status_sent": "Sent to the counterpart", "status_closed": "Closed",
    "unknown_unit": "unknown unit", "unknown_counterpart": "unknown counterpart",
    "doc_deviation": "deviation", "doc_response": "response", "doc_supplement": "supplement",
    "doc_sent": "sent",
    "step_register": "register in the operations system", "step_respond": "investigate, assess and respond",
    "step_send_response": "send the response to the counterpart", "step_close": "follow up and close",
    "step_send": "send the deviation to the counterpart", "step_external_response": "the counterpart's response",
    "label_kind": "Kind", "label_counterpart": "Counterpart", "label_unit": "Unit",
    "label_severity": "Severity", "label_status": "Status", "label_todo": "To do",
    "label_info": "For information", "label_commands": "Commands",
    "label_deadline": "Next step", "label_documents": "Documents", "label_actions": "Actions",
    "label_events": "Events",
    "date_format": "{weekday} {day} {month}",
    # --- notifications: the first line per event --------------------------------------------
    "event_incoming_diarised": "New deviation from {counterpart} diarised for {unit}",
    "event_incoming_diarised_no_unit": "New deviation from {counterpart} diarised – unit unknown",
    "event_outgoing_diarised": "Outgoing deviation diarised for {unit}",
    "event_response_incoming": "The unit's response diarised for {unit}",
    "event_response_outgoing": "Response from {counterpart} diarised for {unit}",
    "event_supplement": "Supplement diarised for {unit}",
    "event_unit_assigned": "Deviation from {counterpart} moved to {unit}",
    "event_triage": "A mail needs your decision",
    # --- notifications: what the recipient is asked to do ------------------------------------
    "todo_register": "Register the deviation in the operations system by {deadline}, and assess its severity.",
    "todo_pick_unit": "Pick the unit, so its manager gets the deviation.",
    "todo_send": "Send the deviation to {counterpart} by {deadline}.",
    "todo_send_response": "Send the response on to {counterpart} by {deadline}.",
    "todo_close": "Enter the response in the operations system and close the case by {deadline}.",
    "todo_supplement": "Read the supplement in the operations system or ask the registrar.",
    "todo_respond": "Investigate, assess and respond by {deadline}.",
    "todo_counterpart_unknown": "The counterpart is unknown: set it with `counterpart {number} <counterpart>`.",
    "info_line": "nothing for you to do.",
    "cmd_register": "registered {number}",
    "cmd_assess": "assess {number} red|yellow|green",
    "cmd_send": "send {number}",
    "cmd_mark_sent": "sent {number}",
    "cmd_close": "close {number}",
    "cmd_unit": "unit {number} <unit>",
    "cmd_status": "status {number}",
    # --- reminders, escalations, digest -------------------------------------------------------
    "event_reminder": "Reminder: {step} is overdue",
    "event_escalation": "Escalation: {step} for {unit} is overdue",
    "event_digest": "Weekly overview – open cases: {count}, overdue: {overdue}",
    "reminder_line": "{step_cap} was due by {deadline}.",
    "todo_reminder": "Do it now – or pause the reminders with snooze and a reason.",
    "escalation_line": "{step_cap} was due by {deadline}; owner: {owners}. Reminders were sent without result.",
    "action_step": "action {no} «{text}»",
    "todo_action": "Do the action and mark it as done.",
    "todo_external_response": "The counterpart has not responded. Remind them, or close with a reason.",
    "todo_escalation": "Check with the person responsible, or do the step yourself.",
    "todo_digest": "Overdue cases first.",
    "cmd_snooze": "snooze {number} YYYY-MM-DD <reason>",
    "cmd_action_done": "action done {number} {no}",
    "cli_reminder_line": "{due} {level} to {recipient}: {number} step {step} (due {deadline})",
    "level_reminder": "reminder", "level_escalation": "escalation",
    # --- triage ----------------------------------------------------------------------------
    "triage_text": "Mail from {sender} with the subject «{subject}» could not be diarised automatically: {reason}.",
    "triage_todo": "Choose: diarise as a new deviation, add to a case, or mark as not a deviation.",
    "triage_suggest": "Suggested case: {number}.",
    # --- intake reasons ----------------------------------------------------------------------
    "reason_duplicate": "the same mail has already been handled ({key})",
    "reason_own_address": "sent from the bot's own address",
    "reason_auto": "automatic mail ({why})",
    "reason_new_incoming": "deviation from external sender {sender}",
    "reason_new_counterpart": "the sender belongs to the counterpart {counterpart}",
    "reason_new_outgoing": "deviation from internal sender {sender}",
    "reason_number": "diary number {number} in the mail",
    "reason_thread": "reply in the same thread as case {number}",
    "reason_conversation": "same conversation as case {number}",
    "reason_unknown_number": "the diary number {number} does not exist",
    "reason_foreign_sender": "the sender {sender} does not belong to case {number}",
    "reason_not_deviation": "nothing that looks like a deviation, and the sender is not a known counterpart",
    "reason_forward_unreadable": "forwarded by the registrar, but the original could not be extracted",
    "reason_override_unit": "the unit {unit} given by the registrar is unknown",
    "reason_closed_case": "case {number} is closed",
    # --- refusals (DomainError / PermissionDenied) --------------------------------------------
    "denied_unknown": "You are not in the organisation's directory, so I cannot show or change cases. Contact the registrar.",
    "denied_view": "You do not have access to {number}.",
    "denied_manage": "Only the unit's manager, the registrar, MA or SAS may change {number}.",
    "denied_close": "Only the unit's manager, the registrar, MA or SAS may close {number}.",
    "denied_send": "Only the registrar sends {number} to the counterpart.",
    "denied_mark_sent": "Only the registrar, MA or SAS can mark {number} as sent.",
    "denied_route": "Only the registrar, MA or SAS can change the unit or counterpart of {number}.",
    "refused_closed": "{number} is already closed.",
    "refused_register_outgoing": "{number} is an outgoing deviation; it is not registered by the unit.",
    "refused_already_registered": "{number} is already registered.",
    "refused_severity": "The severity must be red, yellow or green.",
    "refused_already_sent": "{number} has already been sent.",
    "refused_no_response": "The unit's response in {number} has not come in yet, so there is nothing to send. If the response went out some other way: write `sent {number}`.",
    "refused_close_early_role": "{number} cannot be closed yet. Only the registrar, MA or SAS can close early, with a reason.",
    "refused_close_early_reason": "Give a reason when closing {number} early, e.g. `close {number} diarised by mistake`.",
    "refused_close_open_actions": "{number} has open actions: {actions}. Mark them as done or give a reason to close anyway.",
    "refused_action_text": "Write what the action is.",
    "refused_no_such_action": "{number} has no action no. {no}.",
    "refused_action_done": "Action {no} in {number} is already done.",
    "refused_unknown_unit": "The unit «{unit}» does not exist.",
    "refused_unknown_counterpart": "The counterpart «{counterpart}» does not exist.",
    "refused_title": "The title cannot be empty.",
    "refused_snooze_reason": "Give a reason for pausing the reminders.",
    "refused_snooze_past": "The date must be in the future.",
    "refused_no_case": "Case {number} does not exist.",
    "refused_no_counterpart_address": "{number} has no counterpart with an email address; set the counterpart first.",
    "refused_no_sender": "No email sending is configured. Send it yourself and write `sent {number}`.",
    # --- confirmations ---------------------------------------------------------------------------
    "done_registered": "{number} is marked as registered in the operations system.",
    "done_assessed": "{number} is assessed as {severity}.",
    "done_marked_sent": "{number} is marked as sent.",
    "done_sent": "{number} has been sent to {address}.",
    "done_closed": "{number} is closed.",
    "done_action_added": "Action {no} has been added to {number}.",
    "done_action_done": "Action {no} in {number} is done.",
    "done_unit": "{number} now belongs to {unit}.",
    "done_counterpart": "{number} now has the counterpart {counterpart}.",
    "done_title": "The title of {number} has been changed.",
    "done_snoozed": "Reminders for {number} are paused until {until}.",
    "done_subscribed": "You now get copies for information from {units}.",
    "done_unsubscribed": "You no longer get copies from {units}.",
    "not_subscribed": "You are not subscribed to {units}.",
    "denied_subscribe": "You cannot follow {units}: a manager follows their own units; the registrar, MA and SAS can follow all.",
    "all_units": "all units",
    # --- chat answers ------------------------------------------------------------------------
    "no_cases": "No cases.",
    "list_header": "Cases ({count}):",
    "overdue_mark": "OVERDUE",
    "help": (
        "How to talk to Avvikelsebot:\n"
        "  status <number> – the state of a case\n"
        "  mine – my open cases\n"
        "  open [unit] – open cases\n"
        "  overdue – cases whose next step is overdue\n"
        "  registered <number> – the deviation is registered in the operations system\n"
        "  assess <number> red|yellow|green – set the severity\n"
        "  send <number> – (registrar) send to the counterpart\n"
        "  sent <number> – mark as sent outside the bot\n"
        "  close <number> [reason] – close the case\n"
        "  action <number> <text> [by YYYY-MM-DD] – add an action\n"
        "  action done <number> <no> – mark an action as done\n"
        "  unit <number> <unit> – change the unit\n"
        "  counterpart <number> <counterpart> – set the counterpart\n"
        "  title <number> <text> – change the title\n"
        "  snooze <number> <date> <reason> – pause reminders until a date\n"
        "  diarise <triage-id> [unit] – (registrar, MA, SAS) diarise a mail in triage\n"
        "  attach <triage-id> <number> – add a mail in triage to a case\n"
        "  dismiss <triage-id> [reason] – a mail in triage is not a deviation\n"
        "  subscribe <unit|all> – get copies for information\n"
        "  unsubscribe <unit|all> – stop getting copies\n"
        "  help – this text\n"
        "Diary numbers can be written VOK 2026/0042, 2026/42 or vok-2026-0042."
    ),
    "unknown_command": "I did not understand «{word}».",
    "did_you_mean": "Did you mean «{suggestion}»?",
    "usage_status": "status <number>", "usage_register": "registered <number>",
    "usage_assess": "assess <number> red|yellow|green", "usage_send": "send <number>",
    "usage_mark_sent": "sent <number>", "usage_close": "close <number> [reason]",
    "usage_action": "action <number> <text> [by YYYY-MM-DD] · action done <number> <no>",
    "usage_unit": "unit <number> <unit>", "usage_counterpart": "counterpart <number> <counterpart>",
    "usage_title": "title <number> <text>", "usage_snooze": "snooze <number> <YYYY-MM-DD> <reason>",
    "usage_subscribe": "subscribe <unit|all>", "usage_unsubscribe": "unsubscribe <unit|all>",
    "usage_open": "open [unit]",
    "usage": "Like this: {usage}",
    "bad_number": "«{text}» is not a diary number. Write e.g. VOK 2026/0042 or 2026/42.",
    "bad_date": "«{text}» is not a date. Write YYYY-MM-DD.",
    "bad_unit": "The unit «{text}» does not exist. Units: {units}.",
    "bad_action_no": "«{text}» is not an action number.",
    "missing_number": "Give a diary number, e.g. VOK 2026/0042 or 2026/42.",
    "missing_date": "Give a date, YYYY-MM-DD.",
    "missing_unit": "Give a unit. Units: {units}.",
    "missing_action_no": "Give the action's number.",
    "bad_counterpart": "The counterpart «{text}» does not exist. Counterparts: {counterparts}.",
    "status_deadline": "{step} by {deadline}",
    "status_deadline_overdue": "{step} by {deadline} – OVERDUE",
    # --- CLI -------------------------------------------------------------------------------------
    "cli_ingested": "{file}: {outcome} {number} – {reason}",
    "cli_outbox_line": "[{state}] {created} to {recipient} ({channel}) {number}: {event}",
    "cli_console_to": "── To {name} ({role}) via {channel} ──",
    "role_act": "to do", "role_info": "for information",
    "outcome_new_case": "new case", "outcome_added_to_case": "added to case",
    "outcome_duplicate": "duplicate", "outcome_ignored": "ignored", "outcome_triage": "triage",
    "cli_config_error": "configuration error: {error}",
    "cli_watching": "Avvikelsebot is watching {inbox} – stop with Ctrl-C.",
    "cli_stopped": "Avvikelsebot has stopped.",
    "cli_missing_file": "no such file: {files}",
    "cli_bad_number": "«{text}» is not a diary number (e.g. VOK 2026/0042)",
    "cli_no_case": "case {number} does not exist",
    "cli_unknown_unit": "unknown unit «{unit}»",
    "cli_outbox_empty": "No notifications.",
    "cli_report_header": "Report {year} – {count} cases",
    "cli_report_all_years": "all years",
    "cli_report_step": "step {step}: median {median} days, 90th percentile {p90} days ({count} cases)",
    "cli_report_overdue": "overdue now: {numbers}",
    "cli_none": "none",
    "cli_bad_time": "«{text}» is not a time: write YYYY-MM-DD or YYYY-MM-DDTHH:MM",
    "cli_outside_hours": "{moment} is outside office hours: nothing is sent then.",
    "cli_reminder": "{due} {level} to {recipient}: {number} {step}{sent}",
    "cli_already_sent": " (already sent)",
    "cli_no_reminders": "No reminders.",
    "level_digest": "weekly overview",
    "cli_warn_teams_anonymous": "TEAMS_ANONYMOUS=true: Teams requests are NOT checked – local development only!",
    "cli_warn_no_manager": "unit {unit} has no manager: its cases go to the registrator",
    "cli_warn_no_address": "counterpart {counterpart} has no address: send does not work for it",
    "cli_config_ok": "The configuration {path} is valid.",
    "cli_config_summary": "{name}: {people} people, {units} units, {counterparts} counterparts, diary series {series}",
    "cli_mailbox": "mailbox: {source}",
    "cli_channel": "{name}: {state}",
    "cli_on": "on", "cli_off": "off",
    "cli_warning": "WARNING: {warning}",
    # --- triage and buttons ---------------------------------------------------------------
    "usage_triage_new": "diarise <triage-id> [unit]",
    "usage_triage_attach": "attach <triage-id> <number>",
    "usage_triage_dismiss": "dismiss <triage-id> [reason]",
    "missing_triage_id": "Give the mail's triage id, for example T1a2b3c4d.",
    "bad_triage_id": "«{text}» is not a triage id (for example T1a2b3c4d).",
    "refused_no_triage": "There is no mail in triage with id {id}.",
    "refused_triage_done": "The mail {id} has already been handled ({what}, {who}).",
    "denied_triage": "Only the registrar, MA and SAS can handle mail in triage.",
    "triage_done_new": "diarised as {number}", "triage_done_attach": "added to {number}",
    "triage_done_dismiss": "not a deviation",
    "done_triage_new": "The mail {id} is diarised as {number}.",
    "done_triage_attach": "The mail {id} is added to {number}.",
    "done_triage_dismiss": "The mail {id} is marked as not a deviation.",
    "triage_id_line": "Triage id: {id}.",
    "cmd_triage_new": "diarise {id} <unit>", "cmd_triage_attach": "attach {id} <number>",
    "cmd_triage_dismiss": "dismiss {id}",
    "btn_register": "Registered", "btn_assess_green": "Assess Green",
    "btn_assess_yellow": "Assess Yellow", "btn_assess_red": "Assess Red", "btn_send": "Send",
    "btn_mark_sent": "Sent elsewhere", "btn_close": "Close", "btn_snooze": "Snooze",
    "btn_unit": "Pick the unit", "btn_action_done": "Action {no} done",
    "btn_triage_new": "Diarise as a new deviation", "btn_triage_attach": "Add to {number}",
    "btn_triage_dismiss": "Not a deviation",
    "snooze_default_reason": "snoozed from chat",
    "event_unreachable": "{name} cannot be reached in {channel}",
    "unreachable_text": "{name} has not opened Avvikelsebot in {channel} yet, so the bot cannot write there. Notifications to {name} go by {fallback} for now.",
    "todo_unreachable": "Ask {name} to open Avvikelsebot in {channel} once (or check the person's id in the organisation file).",
    "channel_slack": "Slack", "channel_teams": "Teams", "channel_email": "e-mail", "channel_console": "the console",
    # --- mail sources and e-mail notifications (Graph, IMAP/SMTP) -------------------------
    # --- Slack ----------------------------------------------------------------------------
    # --- Teams ----------------------------------------------------------------------------
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
