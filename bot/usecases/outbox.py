"""Delivering the outbox: claim, send, record (DESIGN §11).

1. claim (a short transaction): due items are marked `sending` with this process's token,
   the attempt and the time, durably, before anything leaves;
2. send, outside every store lock, one worker per channel, so a slow or dead channel never
   delays intake, commands or the other channels;
3. record (a short transaction per batch): sent with where it went, or back to pending with
   a back-off (a channel's Retry-After is honoured here, never slept on), or failed.

An item found `sending` under another token was in flight when a process died. It is
reconciled, not blindly re-sent: a notifier that can look (Slack: the conversation's history
by the item's metadata) says whether it was delivered; an e-mail goes out again with the
Message-ID fixed when it was queued, so the recipient's server and client see one message.

A chat channel that stays down longer than its retries (MAX_ATTEMPTS, about two hours of
back-off) loses nothing: the item is handed to e-mail (issue 22). In the transaction that
records its last failed attempt the item becomes `fallback` (done: it is never sent on the
chat channel as well, so nobody gets it twice) and an e-mail item is queued beside it, its id
`fallback:<id>` the idempotency key (and so the mail's Message-ID): the mail goes through the
same claim/send/record as every item, once even if the process is killed. It goes to the
person's own address, or to the registrators when the person has none, and says it was meant
for Slack/Teams and why it comes by mail. What cannot go by mail (a unit's team-channel post,
no e-mail configured) stays `failed` and is tried again on its channel when that channel
answers: a later successful delivery there re-queues its failed items, and while nothing else
goes to the channel the oldest failed item is tried again every PROBE_EVERY as a probe.
`outbox --retry` (retry()) re-queues every failed item and makes every waiting one due now.

Bundles (issue 24, bot.domain.bundling): a reminder, escalation or kännedom copy that may
wait is queued `pending` as always, marked `bundlable`. The claim leaves it until the first
sendable bundlable item of its (recipient, channel) has waited `bundle_minutes`; then every
sendable bundlable item of the pair is claimed in the same transaction, each stamped with one
`bundle` id. The worker sends them as ONE message (the bundle id is its idempotency key: the
Slack metadata, the e-mail Message-ID) and records them together, in one transaction. A crash
in between leaves them `sending` with their bundle id: the next claim takes them up as the same
bundle and reconciles it by that id, so it is delivered once. The store keeps one item per case
(the outbox, the delivered-notification log); a bundle's items share the delivery.

`skicka` is an outbox job of the same kind (channel "counterpart"): the mail was composed,
given its Message-ID and written to raw/ when the command ran; the case advances to `sent`
in the transaction that records the send.
"""
from __future__ import annotations

import logging
import secrets
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from bot.chat.render import BUNDLE, bundle_view, plain_text, send_failed_view, unreachable_view
from bot.domain import process as proc
from bot.domain.bundling import BUNDLE_ROWS, bundle_id, due_bundles
from bot.domain.access import Actor
from bot.domain.case import CH_SYSTEM, DOC_REMINDER, DOC_SENT, Document, iso
from bot.domain.process import Context
from bot.domain.redact import redact
from bot.errors import DeliveryError, DomainError, Unreachable
from bot.texts import t
from bot.usecases import doubt
from bot.usecases.base import Deps, Notices, _item

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
RECORD_BATCH = 50          # results per record transaction within one channel's round
PER_CHANNEL = 8            # recipients served at once on one channel
COUNTERPART = "counterpart"
# channels whose items go by e-mail after their retries (a chat message nobody saw for hours)
CHAT_CHANNELS = frozenset({"slack", "teams"})
PROBE_EVERY = timedelta(minutes=15)   # a channel with only failed items is tried this often
FALLBACK = "fallback"                 # the state of an item handed to e-mail: done


class Outbox:
    def __init__(self, deps: Deps, notices: Notices):
        self.deps, self.notices = deps, notices
        self.token = secrets.token_hex(6)      # this process's claims
        self._busy: dict[str, Future] = {}
        self._busy_lock = threading.Lock()
        self._round_lock = threading.Lock()    # one claim at a time in this process
        self._executor: ThreadPoolExecutor | None = None
        self.last_round: dict[str, int] = {}
        # channels that failed in this process (or may have failed items from before it
        # started): a success there looks for failed items to re-queue
        # (never `skicka`'s mails: the registrators were told it failed and may have acted;
        # only `outbox --retry` sends one again)
        self._troubled: set[str] = set(CHAT_CHANNELS) | {"email", "console"}
        self._probed: dict[str, datetime] = {}
        # the web overview's address, for a bundle's link to the list of its cases
        self.web_base: str | None = None

    # ------------------------------------------------------------------ the round
    def deliver(self, *, wait: bool = True, only: set[str] | None = None) -> dict[str, int]:
        """One delivery round (of the channels in `only`, or all). With wait=False (the run
        loop) the sends go on in the background and a channel still busy from the last round
        is left alone."""
        with self._round_lock:   # a claimed channel is busy before another round looks
            claimed = self._claim(only)
            futures = []
            for channel, items in claimed.items():
                futures.append(self._start(channel, items))
        counts = {"sent": 0, "retry": 0, "failed": 0, FALLBACK: 0}
        if wait:
            for future in futures:
                for key, value in future.result().items():
                    counts[key] += value
            self.last_round = counts
        return counts

    def _start(self, channel: str, items: list[dict]) -> Future:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="utskick")
        future = self._executor.submit(self._send_channel, channel, items)
        with self._busy_lock:
            self._busy[channel] = future
        return future

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=False)
            self._executor = None

    def _channel_busy(self, channel: str) -> bool:
        with self._busy_lock:
            future = self._busy.get(channel)
            return future is not None and not future.done()

    # ------------------------------------------------------------------ 1. claim
    def _claim(self, only: set[str] | None) -> dict[str, list[dict]]:
        now = self.deps.clock.now()
        stamp = iso(now)
        window = timedelta(minutes=self.deps.org.notifications.bundle_minutes)
        by_channel: dict[str, list[dict]] = {}
        waiting: list[dict] = []       # bundlable, sendable, not in a bundle yet
        with self.deps.uow as store:
            # several instances on one database (PostgreSQL): claim only what no other
            # instance is claiming, and keep what another live instance has in flight
            to_claim = getattr(store, "outbox_to_claim", None)
            claim_alive = getattr(store, "claim_alive", None)
            hold_claim = getattr(store, "hold_claim", None)
            if hold_claim is not None:
                hold_claim(self.token)
            for note in doubt.lone_notes(store, now, self.deps.lang):   # issue 26
                store.add_notification(note)
            for item in sorted(to_claim() if to_claim else store.outbox(),
                               key=lambda n: n["created"]):
                if (only is not None and item["channel"] not in only) or self._channel_busy(
                        item["channel"]):
                    continue
                # in flight with no worker on it: a process died (or a worker failed) mid-send
                orphan = item["state"] == "sending"
                if orphan and claim_alive is not None and item.get("claim") != self.token \
                        and claim_alive(item.get("claim") or ""):
                    continue            # another instance is sending it now
                due = item["state"] == "pending" and item["next_attempt"] <= stamp
                if not (orphan or due):
                    continue
                if due and item.get("bundlable") and not item.get("bundle") and window:
                    waiting.append(item)
                    continue
                self._claim_item(store, item, orphan, stamp, by_channel)
            for group in due_bundles(waiting, now, window):
                # one item alone goes as itself; several as one bundle, claimed together
                bundle = bundle_id(group, stamp) if len(group) > 1 else None
                for item in group:
                    self._claim_item(store, item, False, stamp, by_channel, bundle)
            self._claim_probes(store, now, by_channel, only)
        return by_channel

    def _claim_item(self, store, item: dict, orphan: bool, stamp: str,
                    by_channel: dict[str, list[dict]], bundle: str | None = None) -> None:
        fields = {"state": "sending", "claim": self.token, "claimed_at": stamp,
                  "attempts": item["attempts"] + (0 if orphan else 1),
                  "in_doubt": orphan or item.get("in_doubt", False)}
        if bundle is not None:
            fields["bundle"] = bundle
        if item["channel"] == doubt.CHANNEL and not fields["in_doubt"]:
            fields.update(doubt.attach(store, item, self.deps.lang))   # issue 26
        store.update_notification(item["id"], fields)
        by_channel.setdefault(item["channel"], []).append({**item, **fields})

    def _claim_probes(self, store, now: datetime, by_channel: dict[str, list[dict]],
                      only: set[str] | None) -> None:
        """A channel with failed items and nothing else to send: its oldest failed item is
        tried again every PROBE_EVERY; when it goes through, the rest are re-queued."""
        due = {c for c in self._troubled if c not in by_channel
               and (only is None or c in only) and not self._channel_busy(c)
               and now - self._probed.get(c, now - PROBE_EVERY) >= PROBE_EVERY}
        if not due:
            return
        for channel in due:
            self._probed[channel] = now
        oldest: dict[str, dict] = {}
        for item in store.outbox("failed"):
            channel = item["channel"]
            if item.get("unreachable") or channel not in due:
                continue
            if channel not in oldest or item["created"] < oldest[channel]["created"]:
                oldest[channel] = item
        for channel, item in oldest.items():
            fields = {"state": "sending", "claim": self.token, "claimed_at": iso(now),
                      "probe": True}
            store.update_notification(item["id"], fields)
            by_channel[channel] = [{**item, **fields}]

    # ------------------------------------------------------------------ 2. send
    def _send_channel(self, channel: str, items: list[dict]) -> dict[str, int]:
        """A channel's items: recipients in parallel (a fan-out to 200 people is not 200
        round trips in a row), each recipient's items in order; results recorded in batches."""
        counts = {"sent": 0, "retry": 0, "failed": 0, FALLBACK: 0}
        # what goes out: an item alone, or a bundle's items as one message
        by_recipient: dict[str, list[list[dict]]] = {}
        bundles: dict[str, list[dict]] = {}
        for item in items:
            if item.get("bundle"):
                if item["bundle"] not in bundles:
                    bundles[item["bundle"]] = []
                    by_recipient.setdefault(item["recipient"], []).append(bundles[item["bundle"]])
                bundles[item["bundle"]].append(item)
            else:
                by_recipient.setdefault(item["recipient"], []).append([item])
        results: list[tuple[dict, str, Any]] = []
        results_lock = threading.Lock()

        def send_all(queue: list[list[dict]]) -> None:
            for members in queue:
                if len(members) == 1 and not members[0].get("bundle"):
                    outcomes = [self._send_one(members[0])]
                else:       # one message; its result is every member's, recorded together
                    message = self._bundle_message(members)
                    _, result, detail = self._send_one(message)
                    if result == "sent":   # where the message is, and who else is in it
                        detail = {**(detail or {}), "bundle": message["id"],
                                  "members": message["members"]}
                    outcomes = [(member, result, detail) for member in members]
                with results_lock:
                    results.extend(outcomes)
                    batch = results[:] if len(results) >= RECORD_BATCH else None
                    if batch:
                        results.clear()
                if batch:
                    self._record(batch, counts)

        with ThreadPoolExecutor(max_workers=min(PER_CHANNEL, len(by_recipient)),
                                thread_name_prefix=f"utskick-{channel}") as pool:
            for _ in pool.map(send_all, by_recipient.values()):
                pass
        self._record(results, counts)
        if counts["sent"] and channel in self._troubled:
            self._requeue_failed(channel)
        return counts

    def _bundle_message(self, members: list[dict]) -> dict:
        """The one notification a bundle is sent as: its id the bundle id (the idempotency
        key of the message), a row per member with that case's buttons."""
        members = sorted(members, key=lambda m: (m["created"], m["id"]))
        first = members[0]
        view = bundle_view(self.deps.org, members, BUNDLE_ROWS, self.web_base)
        return {"id": first["bundle"], "recipient": first["recipient"],
                "channel": first["channel"], "diary_number": None, "event": BUNDLE,
                "text": plain_text(self.deps.org, view), "view": view,
                "created": first["created"], "attempts": max(m["attempts"] for m in members),
                "in_doubt": any(m.get("in_doubt") for m in members),
                # Teams texts that may have been shown already ride on the bundle (issue 26)
                "doubt_notes": [n for m in members for n in m.get("doubt_notes", [])],
                "members": [m["id"] for m in members]}

    # ------------------------------------------------------------------ the channel is back
    def _requeue_failed(self, channel: str) -> int:
        """A delivery on `channel` went through: its failed items are tried again (not those
        the channel refused for good, nor those already handed to e-mail: they are `fallback`)."""
        now = self.deps.clock.now()
        stamp = iso(now)
        count = 0
        with self.deps.uow as store:
            for item in store.outbox("failed"):
                if item["channel"] != channel or item.get("unreachable"):
                    continue
                store.update_notification(item["id"], {
                    "state": "pending", "attempts": 0, "next_attempt": stamp, "requeued_at": stamp})
                count += 1
        self._troubled.discard(channel)
        self._probed.pop(channel, None)
        if count:
            log.info("%s svarar igen: %d misslyckade aviseringar försöks på nytt", channel, count)
        return count

    def retry(self) -> dict[str, int]:
        """`outbox --retry`: every failed item is queued again with fresh attempts, and every
        item waiting out a back-off is due now. {"failed": re-queued, "pending": made due}."""
        now = self.deps.clock.now()
        stamp = iso(now)
        counts = {"failed": 0, "pending": 0}
        with self.deps.uow as store:
            for item in store.outbox():
                if item["state"] == "failed":
                    store.update_notification(item["id"], {
                        "state": "pending", "attempts": 0, "next_attempt": stamp,
                        "requeued_at": stamp, "unreachable": False})
                    counts["failed"] += 1
                elif (item["state"] == "pending" and item["next_attempt"] > stamp
                      and not (item.get("held_until") and item["attempts"] == 0)):
                    # (an item held by its recipient's preference, `avisering`, is not a
                    # back-off: it stays for the time the person chose); a held kännedom copy
                    # goes now: its bundle's window counts from when it was queued
                    # (bot.domain.bundling.due_bundles)
                    due = min(item["created"], stamp) if item.get("bundlable") else stamp
                    store.update_notification(item["id"], {"next_attempt": due})
                    counts["pending"] += 1
        self._probed.clear()
        log.info("utkorgen: %d misslyckade aviseringar köas igen, %d väntande försöks nu",
                 counts["failed"], counts["pending"])
        return counts

    def _send_one(self, item: dict) -> tuple[dict, str, Any]:
        if item.get("members") and not item.get("diary_number"):   # a bundle, in the log
            item = {**item, "diary_number": f"{len(item['members'])} ärenden"}
        notifier = (self.deps.notifiers.get(item["channel"])
                    or (None if item["channel"] == COUNTERPART else self.deps.notifiers.get("console")))
        try:
            if notifier is None:
                raise DeliveryError(f"ingen kanal {item['channel']}")
            if item.get("in_doubt"):
                delivered = getattr(notifier, "delivered", None)
                found = delivered(item) if delivered else None
                if found:
                    log.info("%s %s fanns redan levererad: skickas inte igen",
                             item["channel"], item.get("diary_number") or "-")
                    return item, "sent", found
            return item, "sent", notifier.send(item)
        except Unreachable as exc:
            return item, "unreachable", exc
        except DeliveryError as exc:
            return item, "retry", exc
        except Exception as exc:  # a notifier bug: retried with back-off, logged once per item
            log.exception("utskick av %s misslyckades oväntat", item.get("diary_number") or "-")
            return item, "retry", DeliveryError(type(exc).__name__)

    # ------------------------------------------------------------------ 3. record
    def _record(self, results: list[tuple[dict, str, Any]], counts: dict[str, int]) -> None:
        if not results:
            return
        now = self.deps.clock.now()
        with self.deps.uow as store:
            for item, result, detail in results:
                if result == "sent":
                    fields = {"state": "sent", "sent_at": iso(now), "in_doubt": False}
                    if item.get("probe"):
                        fields["probe"] = False
                    if detail:
                        fields["delivery"] = detail  # e.g. where the chat message is, to update it
                    if isinstance(detail, dict) and detail.get("in_doubt"):
                        doubt.remember(store, item, now)   # not posted twice (issue 26)
                    store.update_notification(item["id"], fields)
                    if item["channel"] == COUNTERPART:
                        self._case_sent(item, detail or {}, now)
                    counts["sent"] += 1
                elif result == "unreachable":
                    self._fall_back(item, detail, now)
                    counts["retry"] += 1
                else:
                    if item["channel"] != COUNTERPART:
                        self._troubled.add(item["channel"])
                    counts[self._retry_later(item, detail, now)] += 1

    def _retry_later(self, item: dict, exc: DeliveryError, now: datetime) -> str:
        attempts = item["attempts"]
        state = "failed" if attempts >= MAX_ATTEMPTS or item.get("probe") else "pending"
        delay = exc.retry_after if exc.retry_after is not None else min(30 * 2 ** attempts, 3600)
        fields = {"state": state, "error": redact(str(exc))[:200],
                  "next_attempt": iso(now + timedelta(seconds=delay)),
                  # only a refusal before sending (429 Retry-After) is certainly not delivered
                  "in_doubt": exc.retry_after is None, "probe": False}
        if exc.retry_after is not None and item.get("bundle"):
            fields["bundle"] = None      # certainly not delivered: free to join a new bundle
        if state == "failed":
            fields["failed_at"] = iso(now)
            if item.get("probe"):                  # the channel is still down: wait for the next probe
                self.deps.store.update_notification(item["id"], fields)
                return "failed"
            if self._hand_to_email(item, exc, now):
                return FALLBACK
        self.deps.store.update_notification(item["id"], fields)
        if attempts == 1 or state == "failed":   # one line per item, not one per attempt
            log.warning("utskick via %s av %s misslyckades (försök %d, nytt om %.0f s): %s",
                        item["channel"], item.get("diary_number") or "-", attempts, delay, exc)
        if state == "failed" and item["channel"] == COUNTERPART:
            self._tell_send_failed(item, str(exc), now)
        return "failed" if state == "failed" else "retry"

    def _hand_to_email(self, item: dict, exc: DeliveryError, now: datetime) -> bool:
        """A chat item out of retries goes by e-mail, in this transaction: the item becomes
        `fallback` (done on its channel) and `fallback:<id>` is queued to the person's
        address, or to each registrator when the person has none. False when there is no
        e-mail to hand it to (no e-mail channel, a unit's post, a recipient no longer known)."""
        if item["channel"] not in CHAT_CHANNELS or not self.deps.channels.get("email"):
            return False
        org, store = self.deps.org, self.deps.store
        person = org.people.get(item["recipient"])
        if person is None:
            return False
        to = [person.id] if person.email else [r for r in org.registrators()
                                               if org.people[r].email]
        if not to:
            return False
        lang, stamp = org.language, iso(now)
        since = self.deps.calendar.local(datetime.fromisoformat(item["created"]))
        channel_name = t(lang, f"channel_{item['channel']}")
        ids = []
        for recipient in to:
            intro = t(lang, "fallback_mail_intro", channel=channel_name, since=f"{since:%Y-%m-%d %H:%M}",
                      error=redact(str(exc))[:200]) if recipient == person.id else \
                t(lang, "fallback_mail_intro_other", channel=channel_name, name=person.name,
                  since=f"{since:%Y-%m-%d %H:%M}", error=redact(str(exc))[:200])
            key = f"fallback:{item['id']}" + ("" if recipient == person.id else f":{recipient}")
            fallback = _item(key, recipient, "email", item.get("diary_number"), item["event"],
                             intro + "\n\n" + item["text"], item.get("view") or {}, now)
            fallback.update(fallback_for=item["id"], fallback_from=item["channel"])
            if item.get("bundlable"):   # a bundle that could not go by chat goes as one mail
                fallback.update(bundlable=True, fallback_intro=intro)
            store.add_notification(fallback)
            ids.append(key)
        store.update_notification(item["id"], {
            "state": FALLBACK, "fallback_at": stamp, "fallback_to": ids,
            "error": redact(str(exc))[:200], "in_doubt": False, "probe": False})
        log.warning("%s via %s gick inte fram efter %d försök (%s): skickas med e-post",
                    item.get("diary_number") or item["event"], item["channel"], item["attempts"], exc)
        return True

    def _case_sent(self, item: dict, delivery: dict, now: datetime) -> None:
        """skicka: the case advances in the transaction that records the send."""
        store, org = self.deps.store, self.deps.org
        case = store.get_case_by_text(item["diary_number"])
        if case is None:
            return
        job = item["job"]
        if job.get("kind") == "receipt":     # a receipt is not a document of the case
            return
        reminder = job.get("kind") == "remind"
        document = Document(no=len(case.documents) + 1, type=DOC_REMINDER if reminder else DOC_SENT,
                            received=iso(now),
                            sender=org.mailbox, subject=job["subject"],
                            message_id=job["message_id"], raw=job["raw"])
        actor = Actor.person(job["by"]) if job.get("by") in org.people else Actor.system()
        ctx = Context(org, actor, job.get("channel") or CH_SYSTEM, now, store.subscriptions())
        try:
            record = proc.RecordReminder if reminder else proc.RecordSent
            outcome = proc.apply(case, record(document, job["to"]), ctx)
        except DomainError as refusal:  # closed or marked sent meanwhile: the mail went all the same
            log.warning("%s skickades men ärendet ändrades inte: %s", case.number, refusal)
            return
        self.notices.save(outcome, now)

    def _tell_send_failed(self, item: dict, error: str, now: datetime) -> None:
        view = send_failed_view(self.deps.org, item["diary_number"], item["job"]["to"], error)
        for person in self.deps.org.registrators():
            self.notices.queue(person, "send_failed", view, f"send_failed:{item['id']}:{person}", now,
                               urgent=True)   # the bot's own alarm: never held

    def _fall_back(self, item: dict, exc: Unreachable, now: datetime) -> None:
        """The person cannot be reached on the chat channel (yet): e-mail instead, and the
        registrator is told once per person and channel, so someone can fix it."""
        store, org = self.deps.store, self.deps.org
        fallback = "email" if self.deps.channels.get("email") else "console"
        log.warning("%s kan inte nås via %s (%s): skickas via %s i stället", item["recipient"],
                    item["channel"], exc, fallback)
        recipient = item["recipient"]
        unit = org.units.get(recipient[5:]) if recipient.startswith("unit:") else None
        fields = {"channel": fallback, "fallback_from": item["channel"], "error": str(exc)[:200],
                  "state": "pending", "next_attempt": iso(now), "in_doubt": False, "bundle": None}
        if unit is not None:   # a team channel has no e-mail: the post waits on its own channel
            # (failed, not retried by itself: `outbox --retry` once it is fixed), the registrator told
            fields = {"state": "failed", "failed_at": iso(now), "unreachable": True,
                      "error": str(exc)[:200], "in_doubt": False}
        store.update_notification(item["id"], fields)
        person = org.people.get(recipient)
        told_key = f"unreachable:{recipient}:{item['channel']}"
        if item.get("fallback_from") or (person or unit) is None or store.get_state(told_key):
            return
        store.set_state(told_key, {"at": iso(now)})
        name = person.name if person else unit.name if unit else recipient
        view = unreachable_view(org, name, item["channel"], fallback)
        for registrator in org.registrators():
            if person is None or registrator != person.id:
                self.notices.queue(registrator, "unreachable", view,
                                   f"{told_key}:{registrator}", now, urgent=True)
