"""`python -m offline.demo USERNAME PASSWORD`: the demo login `make run` prints, created or reset.

A staff superuser, so the operators' console can be tried; `make run` creates it in offline mode only.
"""

import os
import sys


def main(username: str, password: str) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
    django.setup()
    from django.contrib.auth import get_user_model

    from core.models import VerifiedEmail

    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"email": f"{username}@example.com"}
    )
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    # The demo's emails (to var/mail) should arrive: its address counts as verified.
    VerifiedEmail.objects.update_or_create(user=user, defaults={"email": user.email})
    print(f"demo user {username!r} {'created' if created else 'ready'}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
