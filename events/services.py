from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from events.models import Event


@transaction.atomic
def event_create(
    *, owner: AbstractBaseUser, title: str, starts_at: datetime, description: str = "", location: str = ""
) -> Event:
    return Event.objects.create(
        owner=owner, title=title, starts_at=starts_at, description=description, location=location
    )
