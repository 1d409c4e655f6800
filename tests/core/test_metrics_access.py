"""Who may read /api/metrics: a bearer token or an allowed network; nobody else, in production, learns it exists."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-0123456789"


def _scrape(**headers):
    return Client().get("/api/metrics", **headers)


def _assert_hidden(response):
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_production_without_a_token_or_networks_answers_404(settings):
    # given
    settings.DEBUG = False
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", []

    # when / then
    _assert_hidden(_scrape())


def test_development_without_configuration_stays_open(settings):
    settings.DEBUG = True
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", []

    response = _scrape()

    assert response.status_code == 200 and b"eventpay_" in response.content


@pytest.mark.parametrize("debug", [False, True])
def test_with_a_token_only_the_bearer_of_it_reads_the_metrics(settings, debug):
    # given
    settings.DEBUG = debug
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = TOKEN, []

    # when
    without = _scrape()
    wrong = _scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN[:-1]}x")
    other_scheme = _scrape(HTTP_AUTHORIZATION=f"Token {TOKEN}")
    right = _scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    # then
    for refused in (without, wrong, other_scheme):
        _assert_hidden(refused)
    assert right.status_code == 200 and b"eventpay_" in right.content


def test_with_networks_only_their_clients_read_the_metrics(settings):
    # given: Prometheus scrapes from 10.1.0.0/16, gunicorn exposed directly
    settings.DEBUG = False
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", ["10.1.0.0/16"]
    settings.TRUSTED_PROXY_NETWORKS = []

    # when
    inside = _scrape(REMOTE_ADDR="10.1.2.3")
    outside = _scrape(REMOTE_ADDR="192.0.2.1")
    forged = _scrape(REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.1.2.3")

    # then
    assert inside.status_code == 200
    _assert_hidden(outside)
    _assert_hidden(forged)


def test_behind_a_proxy_only_the_proxy_says_who_scrapes(settings):
    # given: a proxy of ours in 10.9.0.0/24 in front; Prometheus scrapes through it from 10.1.0.0/16
    settings.DEBUG = False
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", ["10.1.0.0/16"]
    settings.TRUSTED_PROXY_NETWORKS = ["10.9.0.0/24"]

    # when
    through_proxy = _scrape(REMOTE_ADDR="10.9.0.5", HTTP_X_FORWARDED_FOR="10.1.2.3")
    outsider_through_proxy = _scrape(REMOTE_ADDR="10.9.0.5", HTTP_X_FORWARDED_FOR="10.1.2.3, 192.0.2.1")
    forged_directly = _scrape(REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.1.2.3")

    # then: the outsider prepending an allowed address, or reaching gunicorn itself, learns nothing
    assert through_proxy.status_code == 200
    _assert_hidden(outsider_through_proxy)
    _assert_hidden(forged_directly)


def test_a_token_or_a_network_is_enough_when_both_are_configured(settings):
    settings.DEBUG = False
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = TOKEN, ["10.1.0.0/16"]

    assert _scrape(REMOTE_ADDR="10.1.2.3").status_code == 200
    assert _scrape(REMOTE_ADDR="192.0.2.1", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    _assert_hidden(_scrape(REMOTE_ADDR="192.0.2.1"))
