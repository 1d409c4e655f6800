"""What production settings trust from a proxy: X-Forwarded-Proto only behind proxies of ours."""

import json

import pytest

from tests.core.test_deploy import production_env, run_python

CODE = "import json; from django.conf import settings as s; print(json.dumps(s.SECURE_PROXY_SSL_HEADER))"


@pytest.mark.parametrize(
    ("overrides", "trusted"),
    [
        ({}, None),
        ({"NUM_PROXIES": "0"}, None),
        ({"NUM_PROXIES": "1"}, ["HTTP_X_FORWARDED_PROTO", "https"]),
        ({"NUM_PROXIES": "2"}, ["HTTP_X_FORWARDED_PROTO", "https"]),
        ({"NUM_PROXIES": "0", "DJANGO_SECURE_PROXY_SSL_HEADER": "true"}, ["HTTP_X_FORWARDED_PROTO", "https"]),
        ({"NUM_PROXIES": "1", "DJANGO_SECURE_PROXY_SSL_HEADER": "false"}, None),
    ],
    ids=["default", "no-proxy", "one-proxy", "two-proxies", "explicitly-on", "explicitly-off"],
)
def test_x_forwarded_proto_is_trusted_only_behind_a_proxy_of_ours(overrides, trusted):
    # given: production settings with gunicorn exposed directly or behind proxies

    # when
    result = run_python(CODE, production_env(**overrides))

    # then: exposed directly, a client's own X-Forwarded-Proto: https would pass for TLS
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == trusted
