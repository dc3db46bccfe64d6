"""Ways of reaching a patient. A channel sends one message or raises ChannelError; the reminder
service decides which to try and in what order. New channels register a factory by name."""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol


class ChannelError(Exception):
    """The message was not handed over; the text says why (it is stored on the attempt)."""


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    text: str
    reference: str  # stable per reminder: the Message-ID / Idempotency-Key, so a retry can be spotted


class Channel(Protocol):
    name: str

    def recipient(self, contact: Any) -> str | None:
        """Where this channel reaches `contact` (a patient), or None if it cannot."""
        ...

    def send(self, message: Message) -> None:
        """Hand the message over, or raise ChannelError."""
        ...


class EmailChannel:
    """E-mail through an SMTP server (optionally STARTTLS and a login)."""

    name = "email"

    def __init__(self, host: str, port: int, sender: str, user: str = "", password: str = "",
                 starttls: bool = False, timeout: float = 10) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.starttls, self.timeout = user, password, starttls, timeout

    def recipient(self, contact: Any) -> str | None:
        email = (getattr(contact, "email", None) or "").strip()
        return email or None

    def send(self, message: Message) -> None:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        domain = self.sender.rpartition("@")[2] or "infirmary.invalid"
        mail["Message-ID"] = f"<{message.reference}@{domain}>"
        mail.set_content(message.text)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password)
                refused = smtp.send_message(mail)
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise ChannelError(f"SMTP {self.host}:{self.port} refused {', '.join(refused)}")


class SmsChannel:
    """SMS through an HTTP gateway: POST {"to", "text"} as JSON, optionally with a bearer token."""

    name = "sms"

    def __init__(self, url: str, token: str = "", timeout: float = 10) -> None:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError("SMS_GATEWAY_URL must be an http:// or https:// URL")
        self.url, self.token, self.timeout = url, token, timeout

    def recipient(self, contact: Any) -> str | None:
        phone = (getattr(contact, "phone_e164", None) or getattr(contact, "phone", None) or "").strip()
        return phone or None

    def send(self, message: Message) -> None:
        headers = {"Content-Type": "application/json", "Idempotency-Key": message.reference}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = json.dumps({"to": message.to, "text": message.text}).encode("utf-8")
        # The scheme was checked (http or https) when the channel was made.
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            raise ChannelError(f"SMS gateway answered {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ChannelError(f"SMS gateway unreachable: {reason}") from exc
        if not 200 <= status < 300:
            raise ChannelError(f"SMS gateway answered {status}")


Factory = Callable[[Mapping[str, Any]], Channel | None]


def _email(config: Mapping[str, Any]) -> Channel | None:
    if not config.get("SMTP_HOST"):
        return None
    return EmailChannel(str(config["SMTP_HOST"]), int(config.get("SMTP_PORT") or 25),
                        str(config.get("SMTP_FROM") or "appointments@infirmary.invalid"),
                        str(config.get("SMTP_USER") or ""), str(config.get("SMTP_PASSWORD") or ""),
                        bool(config.get("SMTP_STARTTLS")), float(config.get("SMTP_TIMEOUT_SECONDS") or 10))


def _sms(config: Mapping[str, Any]) -> Channel | None:
    if not config.get("SMS_GATEWAY_URL"):
        return None
    return SmsChannel(str(config["SMS_GATEWAY_URL"]), str(config.get("SMS_GATEWAY_TOKEN") or ""),
                      float(config.get("SMS_TIMEOUT_SECONDS") or 10))


FACTORIES: dict[str, Factory] = {"email": _email, "sms": _sms}


def register(name: str, factory: Factory) -> None:
    """Plug in another channel (a messaging app, a voice call) under `name`."""
    FACTORIES[name] = factory


def configured(config: Mapping[str, Any]) -> dict[str, Channel]:
    """The channels this installation has switched on, by name."""
    channels = {}
    for name, factory in FACTORIES.items():
        channel = factory(config)
        if channel is not None:
            channels[name] = channel
    return channels


def order(preferred: str | None, default: str, available: Mapping[str, Channel]) -> list[Channel]:
    """The patient's preferred channel first (else the hospital's default), then the others."""
    first = preferred if preferred in available else default
    names = sorted(available, key=lambda n: (n != first, n))
    return [available[n] for n in names]
