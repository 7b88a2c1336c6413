"""PickupFolderMailSender: the embedded default's way to send mail.

Without SMTP or Graph configured, `skicka` writes the finished mail as an .eml file into
`<data>/utkorg` (a pickup folder, as Exchange and IIS have), where a registrator or an
MTA can take it. The mail is complete: headers, diary number, attachments.
"""
from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from bot.files import write_durably


class PickupFolderMailSender:
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def send(self, message: EmailMessage) -> str:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        message_id = str(message["Message-ID"])
        name = message_id.strip("<>").replace("/", "_").replace("@", "_at_") + ".eml"
        write_durably(self.folder / name, bytes(message))
        return message_id
