"""The archive export (issue 25): `arkivera --år ÅÅÅÅ --till MAPP` makes one E-ARK SIP per
diary year with one ERMS v3 file per case.

A 50-case year is built through the product (mails with personnummer and patient names in
subjects, bodies and attachment names; the units' responses; notes; secrecy changes; public
titles; holds; closes), on TinyDB and on PostgreSQL. Every ERMS file must validate against the
shipped ERMS_v3.xsd (lxml; a failure, never a skip), every METS checksum and size must equal the
file's, no personnummer may appear in any ERMS or METS file or in any path, and the package must
match the golden manifest (paths and SHA-256, the same for both stores) and one golden ERMS file
byte for byte. Regenerate the golden after a deliberate change with
`ARCHIVE_GOLDEN=write .venv/bin/pytest tests/contract/test_archive.py -k golden`.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from lxml import etree

from bot import cli
from bot.app import build
from bot.archive.erms import ERMS_NS
from bot.archive.sip import METS_NS, XLINK_NS
from bot.domain.access import Actor
from bot.domain.redact import contains_personnummer
from bot.ports import FixedClock
from bot.settings import Settings
from bot.store.postgres import PostgresCaseStore
from bot.store.repository import TinyDbCaseStore
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import FakeMailSender, make_mail
from tests.fakes.notifier import FakeNotifier

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "bot" / "archive" / "schema" / "ERMS_v3.xsd"
GOLDEN = REPO / "tests" / "golden" / "archive"
DECISION = "Gallringsbeslut SN 2025-03-12 § 41: avvikelser gallras 2 år efter avslut"
CLASSIFICATION = {"incoming": "2.3.1 Hantera avvikelser", "outgoing": "2.3.2"}
PATIENT = "19121212-1212"
VERSION = "golden"
NS = {"e": ERMS_NS, "m": METS_NS, "x": XLINK_NS}


def utc(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=timezone.utc)


def with_attachment(raw: bytes, n: int) -> bytes:
    """The mail with a PDF whose name carries the patient's personnummer (fixed boundary, so
    the same case gives the same bytes)."""
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    message.add_attachment(b"%PDF-1.4 journalutdrag " + str(n).encode() + b" " + PATIENT.encode(),
                           maintype="application", subtype="pdf",
                           filename=f"Journal {PATIENT} Karl Svensson.pdf")
    message.set_boundary(f"boundary-{n}")
    return bytes(message)


def say(bot, who: str, text: str) -> None:
    reply = bot.services.handle_command(Actor.person(who), text, "slack")
    assert reply.ok, reply.text


def fill_year(bot, clock) -> list[str]:
    """50 cases of 2026 through the product: 40 incoming (Hemtjänst Norr and the home health
    care), 10 outgoing; responses, notes, secrecy changes, public titles, holds, closes."""
    numbers = []
    for n in range(50):
        when = datetime(2026, 1, 5, 8, tzinfo=timezone.utc) + timedelta(days=n * 6, minutes=n)
        clock.set(when)
        if n % 5 == 4:
            raw = make_mail(sender="Maria Medicinsson <maria.medicinsson@exempelby.se>",
                            subject=f"Avvikelse till Dosapoteket {n}, Hemtjänst Norr",
                            body=f"Fel i dosrullen för {PATIENT}.",
                            message_id=f"<arkiv-out-{n}@exempelby.se>", date=when)
        else:
            unit = "Hemtjänst Norr" if n % 2 == 0 else "Hemsjukvården"
            raw = make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                            subject=f"Avvikelse {n} {unit}: Karl Svensson {PATIENT} föll",
                            body=f"Patienten Karl Svensson, {PATIENT}, föll i badrummet.",
                            message_id=f"<arkiv-{n}@regionexempel.se>", date=when)
            if n % 3 == 0:
                raw = with_attachment(raw, n)
        result = bot.services.ingest_mail(raw, arrived=when)
        assert result["outcome"] == "new_case", result
        number = result["diary_number"]
        numbers.append(number)
        if n % 5 != 4 and n % 4 == 1:
            clock.set(when + timedelta(days=1))
            answer = bot.services.ingest_mail(make_mail(
                sender="Anna Andersson <anna.andersson@exempelby.se>",
                subject=f"SV: {number} Avvikelse {n}", date=when + timedelta(days=1),
                message_id=f"<arkiv-svar-{n}@exempelby.se>",
                body=f"Vi har gått igenom händelsen med {PATIENT} och infört dubbelkontroll."),
                arrived=when + timedelta(days=1))
            assert answer["outcome"] == "added_to_case", answer
        clock.set(when + timedelta(days=2))
        if n % 8 == 0:
            say(bot, "rut", f"anteckning {number} Ringde Lisa om {PATIENT}, inget mer att göra")
        if n % 6 == 0:
            say(bot, "rut", f"sekretess {number} 1 offentlig")
        if n % 7 == 0:
            say(bot, "rut", f"sekretess {number} 1 25:1")
        if n % 9 == 0:
            say(bot, "rut", f"publik {number} Fallolycka, Anna Andersson, {PATIENT}")
        if n % 10 == 0:
            say(bot, "rut", f"spärra {number} begärd av IVO i tillsyn")
        if n % 3 != 2:
            clock.set(when + timedelta(days=3))
            say(bot, "rut", f"avsluta {number} klart")
    return numbers


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def office(org, data_dir: Path, store_kind: str, request):
    records = replace(org.records, culling={"incoming": DECISION}, classification=CLASSIFICATION)
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=data_dir,
                        org=replace(org, records=records), env={})
    store = (TinyDbCaseStore(settings.data_dir) if store_kind == "tinydb"
             else PostgresCaseStore(request.getfixturevalue("postgres").new_database()))
    clock = FixedClock(utc(1, 5))
    return build(settings, notifiers={"console": FakeNotifier()}, store=store, clock=clock,
                 sender=FakeMailSender()), clock


def export(bot, year: int) -> dict[str, bytes]:
    plan = bot.services.archive.plan(year)
    return dict(bot.services.archive.package(plan, version=VERSION))


@pytest.fixture(scope="module", params=["tinydb", "postgresql"])
def package(request, org, tmp_path_factory):
    bot, clock = office(org, tmp_path_factory.mktemp("archive") / "data", request.param, request)
    try:
        numbers = fill_year(bot, clock)
        clock.set(utc(12, 30))
        with bot.services.uow:          # closed cases move to the archive part of the store
            bot.store.housekeep(utc(12, 30))
        files = export(bot, 2026)
        yield request.param, numbers, files, bot
    finally:
        bot.close()


def test_every_erms_file_validates_against_the_shipped_schema(package, schema):
    _, numbers, files, _ = package
    erms = {p: b for p, b in files.items() if p.startswith("metadata/descriptive/")}
    assert len(erms) == 50
    for path, data in sorted(erms.items()):
        document = etree.fromstring(data)
        if not schema.validate(document):
            pytest.fail(f"{path} does not validate: {schema.error_log}")
    assert sorted(etree.fromstring(b).findtext("e:aggregations/e:aggregation/e:objectId",
                                                namespaces=NS) for b in erms.values()) == numbers


def test_mets_lists_every_file_with_its_sha256_and_size(package):
    _, _, files, _ = package
    mets = etree.fromstring(files["METS.xml"])
    listed = {}
    for element in mets.iterfind(".//m:file", NS):
        href = element.find("m:FLocat", NS).get(f"{{{XLINK_NS}}}href")
        listed[href] = element
    for element in mets.iterfind(".//m:dmdSec/m:mdRef", NS):
        listed[element.get(f"{{{XLINK_NS}}}href")] = element
    assert set(listed) == set(files) - {"METS.xml"}
    for path, element in listed.items():
        assert element.get("CHECKSUMTYPE") == "SHA-256"
        assert element.get("CHECKSUM") == hashlib.sha256(files[path]).hexdigest(), path
        assert int(element.get("SIZE")) == len(files[path]), path
    assert mets.get("OBJID") == "VOK-2026"
    assert mets.find("m:metsHdr", NS).get(
        "{https://DILCIS.eu/XML/METS/CSIPExtensionMETS}OAISPACKAGETYPE") == "SIP"


def test_no_personnummer_in_metadata_or_paths_and_the_raw_mails_are_whole(package):
    _, _, files, bot = package
    for path, data in files.items():
        assert not contains_personnummer(path), path
        if path.endswith(".xml"):
            assert not contains_personnummer(data.decode("utf-8")), path
            assert b"Karl Svensson" not in data and b"Anna Andersson" not in data, path
    # the mails themselves are the records: kept as they came, byte for byte
    emls = {p: b for p, b in files.items() if p.endswith(".eml")}
    assert len(emls) == 50 + 10     # 50 first mails, 10 responses
    some = next(c for c in bot.store.all_cases(2026) if c.number.endswith("/0001"))
    assert emls["representations/rep1/data/VOK-2026-0001/1.eml"] == bot.store.read_raw(
        some.documents[0].raw)
    pdfs = [p for p in files if p.endswith(".pdf")]
    assert len(pdfs) == 14 and all("bilaga-1.pdf" in p for p in pdfs)


def test_what_each_case_file_says(package):
    _, numbers, files, _ = package
    first = etree.fromstring(files["metadata/descriptive/VOK-2026-0001.xml"])
    case = first.find("e:aggregations/e:aggregation", NS)
    assert case.find("e:classification", NS).get("classificationCode") == "2.3.1"
    # n = 0: a registrator's public title (names and personnummer masked), secrecy changed
    # twice (offentlig, then 25:1), a note, a hold, closed
    assert case.findtext("e:title", namespaces=NS) == "Fallolycka, [namn], [personnummer]"
    disposal = case.find("e:disposal", NS)
    assert disposal.get("disposable") == "true"
    assert disposal.findtext("e:disposalMandate", namespaces=NS) == DECISION
    assert disposal.findtext("e:disposalPeriod", namespaces=NS) == "P2Y"
    assert "IVO" in disposal.findtext("e:disposalComments/e:disposalComment", namespaces=NS)
    due = disposal.find("e:dates/e:disposalDate[@dateType='action_due']", NS)
    assert due.text.startswith("2028-01-08")
    records = case.findall("e:record", NS)
    assert [r.get("recordType") for r in records] == ["deviation", "note"]
    deviation, note = records
    assert deviation.find("e:restriction/e:regulation", NS).text == "OSL 25 kap. 1 §"
    assert deviation.find("e:direction", NS).get("directionDefinition") == "incoming"
    assert deviation.findtext("e:agents/e:agent/e:name", namespaces=NS) == "Region Exempel"
    assert note.find("e:direction", NS).get("directionDefinition") == \
        "internal_memo_without_follow-up"
    # an outgoing case (n = 4): its kind's code, no decision → kept, direction outgoing
    outgoing = etree.fromstring(files["metadata/descriptive/VOK-2026-0005.xml"])
    aggregation = outgoing.find("e:aggregations/e:aggregation", NS)
    assert aggregation.find("e:classification", NS).get("classificationCode") == "2.3.2"
    assert aggregation.find("e:disposal", NS).get("disposable") == "false"
    assert aggregation.find("e:record/e:direction", NS).get("directionDefinition") == "outgoing"
    # the default public title: kind, counterpart, unit; the default secrecy by the unit's care
    second = etree.fromstring(files["metadata/descriptive/VOK-2026-0002.xml"])
    aggregation = second.find("e:aggregations/e:aggregation", NS)
    assert aggregation.findtext("e:title", namespaces=NS) == \
        "Inkommande avvikelse från Region Exempel, Kommunal hemsjukvård"
    assert [r.findtext("e:restriction/e:regulation", namespaces=NS)
            for r in aggregation.findall("e:record", NS)] == ["OSL 25 kap. 1 §"] * 2
    assert [r.find("e:direction", NS).get("directionDefinition")
            for r in aggregation.findall("e:record", NS)] == ["incoming", "outgoing"]
    # n = 6: marked public by the registrator → no restriction on that document
    seventh = etree.fromstring(files["metadata/descriptive/VOK-2026-0007.xml"])
    assert seventh.find("e:aggregations/e:aggregation/e:record/e:restriction", NS) is None


def test_the_package_matches_the_golden(package):
    """The same year gives the same package, on either store."""
    _, _, files, _ = package
    manifest = "".join(f"{hashlib.sha256(data).hexdigest()}  {path}\n"
                       for path, data in sorted(files.items()))
    sample = files["metadata/descriptive/VOK-2026-0001.xml"]
    if os.environ.get("ARCHIVE_GOLDEN") == "write":
        GOLDEN.mkdir(parents=True, exist_ok=True)
        (GOLDEN / "manifest.sha256").write_text(manifest, encoding="utf-8")
        (GOLDEN / "VOK-2026-0001.xml").write_bytes(sample)
    assert sample == (GOLDEN / "VOK-2026-0001.xml").read_bytes()
    assert manifest == (GOLDEN / "manifest.sha256").read_text(encoding="utf-8")


def test_a_year_without_a_classification_code_is_refused(org, tmp_path, request):
    from bot.errors import DomainError
    bot, clock = office(org, tmp_path / "data", "tinydb", request)
    try:
        bot.services.ingest_mail(make_mail(
            sender="Maria Medicinsson <maria.medicinsson@exempelby.se>",
            subject="Avvikelse till Dosapoteket, Hemtjänst Norr", body="Fel i dosrullen.",
            message_id="<arkiv-x@exempelby.se>", date=utc(3, 2)), arrived=utc(3, 2))
        bot.services.archive.deps.org = replace(bot.settings.org, records=replace(
            bot.settings.org.records, classification={"incoming": "2.3.1"}))
        with pytest.raises(DomainError, match="KLASSA"):
            bot.services.archive.plan(2026)
        with pytest.raises(DomainError, match="2025"):
            bot.services.archive.plan(2025)
    finally:
        bot.close()


def test_the_command_writes_the_package_and_refuses_bad_input(org, tmp_path, request, capsys):
    """`arkivera` end to end on a TinyDB diary beside nothing running: exit 0 and a whole
    package on disk whose files match their METS checksums; a bad year, a target that exists,
    a year without cases or a kind without a KLASSA code: exit 2, nothing half written."""
    bot, clock = office(org, tmp_path / "data", "tinydb", request)
    try:
        for n in range(3):
            when = utc(2, 2 + n)
            clock.set(when)
            raw = with_attachment(make_mail(
                sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                subject=f"Avvikelse {n} Hemtjänst Norr {PATIENT}", body=f"{PATIENT} föll.",
                message_id=f"<cli-{n}@regionexempel.se>", date=when), n)
            assert bot.services.ingest_mail(raw, arrived=when)["outcome"] == "new_case"
        say(bot, "rut", "avsluta VOK 2026/0001 klart")
    finally:
        bot.close()
    config = tmp_path / "organisation.toml"
    example = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    config.write_text(example, encoding="utf-8")        # it has [records] classification
    out = tmp_path / "leverans"
    base = ["--config", str(config), "--data", str(tmp_path / "data"), "arkivera"]

    assert cli.main([*base, "--år", "26", "--till", str(out)]) == 2
    assert "ÅÅÅÅ" in capsys.readouterr().err
    assert cli.main([*base, "--år", "2025", "--till", str(out)]) == 2
    assert "2025" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())

    assert cli.main([*base, "--ar", "2026", "--till", str(out),
                     "--skapad", "2026-12-31T12:00"]) == 0
    captured = capsys.readouterr()
    assert "3 ärenden" in captured.out and "VOK 2026/0002" in captured.err   # two still open
    package = out / "VOK-2026"
    assert sorted(p.name for p in out.iterdir()) == ["VOK-2026"]       # no partial left
    mets = etree.parse(str(package / "METS.xml")).getroot()
    assert mets.find("m:metsHdr", NS).get("CREATEDATE") == "2026-12-31T11:00:00+00:00"
    refs = [*mets.iterfind(".//m:file", NS), *mets.iterfind(".//m:dmdSec/m:mdRef", NS)]
    for element in refs:
        href = (element.find("m:FLocat", NS) if element.tag.endswith("file") else element).get(
            f"{{{XLINK_NS}}}href")
        assert hashlib.sha256((package / href).read_bytes()).hexdigest() == \
            element.get("CHECKSUM"), href
    files = [p for p in package.rglob("*") if p.is_file()]
    assert len(files) == len(refs) + 1 == 1 + 1 + 3 + 3 * 2 + 1   # readme, schema, ERMS, mail+pdf, METS
    assert all(p.stat().st_mode & 0o077 == 0 for p in files)

    assert cli.main([*base, "--year", "2026", "--till", str(out)]) == 2       # never overwritten
    assert "finns redan" in capsys.readouterr().err

    line = next(x for x in example.splitlines() if x.startswith("classification ="))
    config.write_text(example.replace(line, 'classification = { outgoing = "2.3.2" }'),
                      encoding="utf-8")
    assert cli.main([*base, "--år", "2026", "--till", str(tmp_path / "annan")]) == 2
    assert "KLASSA" in capsys.readouterr().err
    assert not (tmp_path / "annan" / "VOK-2026").exists()

    # a stored mail that has gone missing stops the delivery (exit 1), leaving nothing behind
    config.write_text(example, encoding="utf-8")
    next((tmp_path / "data" / "raw").rglob("*.eml")).unlink()
    assert cli.main([*base, "--år", "2026", "--till", str(tmp_path / "tredje")]) == 1
    assert "ofullständigt" in capsys.readouterr().err
    assert list((tmp_path / "tredje").iterdir()) == []
