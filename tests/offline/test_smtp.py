"""The local SMTP server keeps what it receives, and `python -m offline.smtp` lists it for a person trying
the product out (the compose file's offline profile and `make run` have no other mail client)."""

import smtplib
import subprocess
import sys
from email.message import EmailMessage

from offline import processes
from offline.net import free_port


def _send(port: int, to: str, subject: str, text: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "noreply@eventpay.localhost", to, subject
    message.set_content(text)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(message)


def test_the_lister_shows_one_addresss_emails_with_their_links(tmp_path):
    # given: two emails received, to two people, in a directory that exists empty (as a fresh Docker volume)
    port, maildir = free_port(), tmp_path / "mail"
    maildir.mkdir()
    server = processes.start_smtp(port=port, maildir=maildir, log_path=tmp_path / "smtp.log")
    try:
        _send(port, "ada@example.com", "Confirm your email address", "Open http://localhost/verify-email/abc")
        _send(port, "grace@example.com", "Set a new password", "Open http://localhost/reset-password/x/y")
    finally:
        processes.stop(server)

    # when
    command = [sys.executable, "-m", "offline.smtp", str(maildir), "--to", "ADA@example.com", "--body"]
    listed = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)

    # then: only Ada's, with its link
    assert "to ada@example.com\tConfirm your email address" in listed.stdout
    assert "http://localhost/verify-email/abc" in listed.stdout
    assert "grace" not in listed.stdout
