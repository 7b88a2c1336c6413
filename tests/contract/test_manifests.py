"""Both app manifests against the schemas their platforms publish (vendored in
tests/schemas, see SOURCES.md; no network, no remote $ref). A manifest that fails here
would be refused on upload: Teams Admin Center / Developer Portal, or Slack's
"Create app from manifest"."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft4Validator, Draft7Validator
from referencing import Registry, Resource

from tests.conftest import REPO

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
TEAMS_MANIFEST = REPO / "config" / "teams" / "manifest.json"
SLACK_MANIFEST = REPO / "config" / "slack-manifest.json"
TEAMS_SCHEMAS = {
    "https://developer.microsoft.com/json-schemas/teams/v1.19/MicrosoftTeams.schema.json":
        SCHEMAS / "teams-v1.19" / "MicrosoftTeams.schema.json",
}
SLACK_RAW = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/"
APP_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"    # what the admin puts in for ${{TEAMS_CLIENT_ID}}


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def teams_manifest() -> dict:
    """The manifest as the admin zips it: the bot id placeholder replaced (README)."""
    text = TEAMS_MANIFEST.read_text(encoding="utf-8").replace("${{TEAMS_CLIENT_ID}}", APP_ID)
    return json.loads(text)


def teams_validator(manifest: dict) -> Draft4Validator:
    """The schema the manifest names in $schema (draft-04, as Microsoft publishes it)."""
    named = manifest["$schema"]
    assert named in TEAMS_SCHEMAS, f"vendor the schema {named} into tests/schemas first"
    schema = _load(TEAMS_SCHEMAS[named])
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)


def slack_validator() -> Draft7Validator:
    """Slack's top schema; its $refs to the versioned schemas resolve to the vendored copies."""
    registry = Registry().with_resources(
        (SLACK_RAW + name, Resource.from_contents(_load(SCHEMAS / "slack" / name)))
        for name in ("manifest.schema.1.0.0.json", "manifest.schema.2.0.0.json"))
    schema = _load(SCHEMAS / "slack" / "manifest.schema.json")
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, registry=registry)


def problems(validator, document: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(document)]


def test_the_teams_manifest_is_valid_against_the_schema_it_names():
    manifest = teams_manifest()
    assert manifest["manifestVersion"] == "1.19"
    assert problems(teams_validator(manifest), manifest) == []


def test_the_slack_manifest_is_valid_against_slacks_schema():
    manifest = _load(SLACK_MANIFEST)
    assert manifest["_metadata"]["major_version"] == 1
    assert problems(slack_validator(), manifest) == []


# The validators catch what the upload would refuse: the checks are not vacuous.
@pytest.mark.parametrize("change, where", [
    (lambda m: m["developer"].update(name="Vård- och omsorgskontoret, Exempelby kommun"), "developer/name"),
    (lambda m: m["bots"][0].update(botId="${{TEAMS_CLIENT_ID}}"), "bots/0/botId"),
    (lambda m: m.update(accentColor="teal"), "accentColor"),
    (lambda m: m["name"].update(short="Avvikelsebot för Exempelby kommuns VOK"), "name/short"),
])
def test_the_teams_schema_refuses_what_teams_refuses(change, where):
    manifest = teams_manifest()
    change(manifest)
    assert [p for p in problems(teams_validator(manifest), manifest) if p.startswith(where)]


def test_the_slack_schema_refuses_what_slack_refuses():
    manifest = _load(SLACK_MANIFEST)
    manifest["features"]["slash_commands"][0]["command"] = "avvikelse utan snedstreck"
    manifest["oauth_config"]["scopes"]["bot"].append("chat:skriv")
    assert problems(slack_validator(), manifest)
    del manifest["display_information"]
    assert problems(slack_validator(), manifest)
