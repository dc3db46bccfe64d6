"""An id longer than any row's in a URL is "not found", never a server error."""

from __future__ import annotations

import re

from flask import Flask

from tests.conftest import Client


def test_every_route_with_an_id_answers_a_25_digit_id_with_404(app: Flask, client: Client, login_as) -> None:
    login_as(["doctor", "pharmacist", "registry_supervisor", "charge_nurse"])
    huge = "9" * 25
    checked = 0
    for rule in app.url_map.iter_rules():
        if "<int:" not in rule.rule or "GET" not in (rule.methods or ()):
            continue
        url = re.sub(r"<int:[^>]+>", huge, rule.rule)
        url = re.sub(r"<[^>]+>", "x", url)
        response = client.get(url)
        assert response.status_code == 404, (rule.rule, response.status_code)
        checked += 1
    assert checked > 20
