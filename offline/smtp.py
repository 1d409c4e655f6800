"""A local SMTP server for `make run`, the compose file's offline profile and the tests: aiosmtpd (from
PyPI), keeping every message it receives in a Maildir and printing one line per message, so that no email
leaves the machine.

    python -m aiosmtpd -n -l 127.0.0.1:8025 -c offline.smtp.MailCatcher var/mail

What it kept, oldest first (`--to` one address, `--body` with each message's plain text and its links):

    python -m offline.smtp var/mail [--to ADDRESS] [--body]
"""

from __future__ import annotations

import email
import mailbox
import sys
from argparse import ArgumentParser
from collections.abc import Sequence
from email import policy
from email.message import EmailMessage, Message
from pathlib import Path

from aiosmtpd.handlers import Mailbox


class MailCatcher(Mailbox):
    def __init__(self, mail_dir: str) -> None:
        # An existing empty directory (a fresh Docker volume) is not made a Maildir by `mailbox` itself.
        for part in ("tmp", "new", "cur"):
            (Path(mail_dir) / part).mkdir(parents=True, exist_ok=True)
        super().__init__(Path(mail_dir))

    def handle_message(self, message: Message) -> None:
        super().handle_message(message)
        print(f"mail to {message['To']}: {message['Subject']}", flush=True)

    @classmethod
    def from_cli(cls, parser: ArgumentParser, *args) -> MailCatcher:
        if len(args) != 1:
            parser.error("MailCatcher takes one argument: the Maildir to keep messages in")
        return cls(args[0])


def command(*, port: int, maildir: Path) -> list[str]:
    return [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "offline.smtp.MailCatcher",
            str(maildir)]  # fmt: skip


def messages(maildir: Path) -> list[EmailMessage]:
    """Every message received so far, oldest first, its headers decoded."""
    box = mailbox.Maildir(maildir, create=True)
    received = [(box.get_message(key).get_date(), box.get_bytes(key)) for key in box.iterkeys()]
    return [email.message_from_bytes(raw, policy=policy.default) for _, raw in sorted(received)]


def main(argv: Sequence[str] | None = None) -> None:
    parser = ArgumentParser(prog="python -m offline.smtp", description="List the emails a Maildir holds.")
    parser.add_argument("maildir", type=Path)
    parser.add_argument("--to", help="only the messages to this address")
    parser.add_argument("--body", action="store_true", help="print each message's plain text too")
    args = parser.parse_args(argv)
    for message in messages(args.maildir):
        if args.to and args.to.lower() not in str(message["To"]).lower():
            continue
        print(f"{message['Date']}\tto {message['To']}\t{message['Subject']}")
        if args.body:
            body = message.get_body(("plain",))
            print(body.get_content() if body else "(no plain text)", end="\n\n")


if __name__ == "__main__":
    main()
