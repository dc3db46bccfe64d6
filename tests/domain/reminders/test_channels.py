"""The channels against real servers: what arrives, and how each failure is reported."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.domain.reminders import channels
from app.domain.reminders.channels import ChannelError, EmailChannel, Message, SmsChannel
from tests.domain.reminders.servers import free_port, sms_gateway, smtp_server

MESSAGE = Message(to="mai.nguyen@example.org", subject="Appointment reminder: Cardiology",
                  text="Dear Mai,\nsee you on Monday at 09:30.\n", reference="reminder-42")


def test_email_reaches_a_real_smtp_server() -> None:
    with smtp_server() as (inbox, port):
        EmailChannel("127.0.0.1", port, "appointments@hospital.example").send(MESSAGE)
    [mail] = inbox.messages
    assert mail["To"] == "mai.nguyen@example.org"
    assert mail["From"] == "appointments@hospital.example"
    assert mail["Subject"] == "Appointment reminder: Cardiology"
    assert mail["Message-ID"] == "<reminder-42@hospital.example>"
    assert "see you on Monday at 09:30." in mail.get_content()
    assert inbox.envelopes == [("appointments@hospital.example", ["mai.nguyen@example.org"])]


def test_email_to_a_closed_port_is_a_channel_error() -> None:
    port = free_port()
    with pytest.raises(ChannelError, match=f"SMTP 127.0.0.1:{port}: ConnectionRefusedError"):
        EmailChannel("127.0.0.1", port, "a@b.example", timeout=2).send(MESSAGE)


def test_sms_posts_json_with_token_and_idempotency_key() -> None:
    with sms_gateway() as gateway:
        SmsChannel(gateway.url, token="s3cret").send(Message("+447700900123", "", "See you at 09:30", "reminder-7"))
    assert gateway.received == [{"to": "+447700900123", "text": "See you at 09:30"}]
    headers = {k.lower(): v for k, v in gateway.headers[0].items()}
    assert headers["authorization"] == "Bearer s3cret"
    assert headers["idempotency-key"] == "reminder-7"
    assert headers["content-type"] == "application/json"


def test_sms_gateway_errors_and_outages_are_channel_errors() -> None:
    with sms_gateway() as gateway:
        gateway.status = 503
        with pytest.raises(ChannelError, match="answered 503"):
            SmsChannel(gateway.url).send(MESSAGE)
        assert gateway.received == []
    with pytest.raises(ChannelError, match="unreachable"):
        SmsChannel(f"http://127.0.0.1:{free_port()}/send", timeout=2).send(MESSAGE)


def test_recipients_come_from_the_patient() -> None:
    patient = SimpleNamespace(email=" mai@example.org ", phone="07700 900123", phone_e164="+447700900123")
    assert EmailChannel("h", 25, "f@x.example").recipient(patient) == "mai@example.org"
    assert SmsChannel("http://x").recipient(patient) == "+447700900123"
    nobody = SimpleNamespace(email=None, phone=None, phone_e164=None)
    assert EmailChannel("h", 25, "f@x.example").recipient(nobody) is None
    assert SmsChannel("http://x").recipient(nobody) is None


def test_configuration_switches_channels_on_and_orders_them() -> None:
    assert channels.configured({}) == {}
    both = channels.configured({"SMTP_HOST": "mail", "SMTP_PORT": 2525, "SMS_GATEWAY_URL": "http://gw"})
    assert sorted(both) == ["email", "sms"]
    assert [c.name for c in channels.order("email", "sms", both)] == ["email", "sms"]
    assert [c.name for c in channels.order(None, "sms", both)] == ["sms", "email"]
    assert [c.name for c in channels.order("email", "sms", {"sms": both["sms"]})] == ["sms"]


def test_a_channel_can_be_plugged_in(monkeypatch: pytest.MonkeyPatch) -> None:
    class Pager:
        name = "pager"

        def recipient(self, contact: object) -> str | None:
            return "pager-1"

        def send(self, message: Message) -> None:
            return None

    monkeypatch.setitem(channels.FACTORIES, "pager", lambda config: Pager() if config.get("PAGER") else None)
    assert "pager" not in channels.configured({})
    assert "pager" in channels.configured({"PAGER": True})


def test_the_sms_gateway_must_be_a_web_address() -> None:
    with pytest.raises(ValueError, match="http"):
        SmsChannel("file:///etc/passwd")
