"""The archive export (issue 25), pure: a diary year as one E-ARK SIP (FGS Paketstruktur 2.0 =
E-ARK CSIP + SIP 2.1) with one CITS ERMS v3 file per case (FGS Ärendehantering 2.0).

Data in, bytes out: nothing here reads the store or the disk (bot/usecases/archive.py does,
and hands the bytes on). The schema the ERMS files follow is shipped beside this module
(schema/ERMS_v3.xsd, see schema/SOURCES.md).
"""
from __future__ import annotations

from importlib import resources


def erms_schema() -> bytes:
    """The shipped ERMS v3.0.2 schema, as the package carries it in `schemas/`."""
    return resources.files("bot.archive").joinpath("schema/ERMS_v3.xsd").read_bytes()
