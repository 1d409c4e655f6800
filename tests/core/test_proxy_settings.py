"""What production settings trust from a proxy: forwarded headers only from the networks of proxies of ours."""

import json

import pytest

from tests.core.test_deploy import production_env, run_python

CODE = "import json; from django.conf import settings as s; print(json.dumps(s.SECURE_PROXY_SSL_HEADER))"


@pytest.mark.parametrize(
    ("overrides", "trusted"),
    [
        ({}, None),
        ({"TRUSTED_PROXY_NETWORKS": ""}, None),
        ({"TRUSTED_PROXY_NETWORKS": "10.0.0.0/8"}, ["HTTP_X_FORWARDED_PROTO", "https"]),
        ({"TRUSTED_PROXY_NETWORKS": "10.0.0.0/8,fd00::/8"}, ["HTTP_X_FORWARDED_PROTO", "https"]),
        ({"TRUSTED_PROXY_NETWORKS": "10.0.0.0/8", "DJANGO_SECURE_PROXY_SSL_HEADER": "false"}, None),
    ],
    ids=["default", "no-proxy", "one-network", "two-networks", "explicitly-off"],
)
def test_x_forwarded_proto_is_read_only_behind_a_proxy_of_ours(overrides, trusted):
    # given: production settings with gunicorn exposed directly or behind proxies

    # when
    result = run_python(CODE, production_env(**overrides))

    # then: exposed directly, a client's own X-Forwarded-Proto: https would pass for TLS
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == trusted


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"TRUSTED_PROXY_NETWORKS": "10.0.0.0/33"}, "TRUSTED_PROXY_NETWORKS"),
        ({"TRUSTED_PROXY_NETWORKS": "the-load-balancer"}, "TRUSTED_PROXY_NETWORKS"),
        ({"NUM_PROXIES": "1"}, "NUM_PROXIES is replaced by TRUSTED_PROXY_NETWORKS"),
    ],
    ids=["bad-prefix", "a-name", "the-old-count"],
)
def test_settings_refuse_to_start_on_a_proxy_setting_they_cannot_follow(overrides, message):
    # when
    result = run_python(CODE, production_env(**overrides))

    # then: a count or a host name would silently make every client the proxy
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr
