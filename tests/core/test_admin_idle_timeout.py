from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from tests.conftest import operator_login
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_an_idle_operator_is_logged_out_of_the_admin_and_an_active_one_is_not(client, settings):
    operator_login(client, UserFactory(is_staff=True, is_superuser=True))
    idle = timedelta(minutes=settings.ADMIN_IDLE_TIMEOUT_MINUTES)
    start = timezone.now()

    with freeze_time(start):
        first = client.get("/admin/")
    with freeze_time(start + idle - timedelta(minutes=1)):
        active = client.get("/admin/")
    with freeze_time(start + 2 * idle):
        after_idle = client.get("/admin/")

    assert first.status_code == 200
    assert active.status_code == 200
    assert after_idle.status_code == 302 and "/admin/login/" in after_idle["Location"]
