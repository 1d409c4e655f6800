"""Account services: API tokens (django-rest-knox) and passwords.

Tokens are stored as SHA-512 digests (knox), expire after REST_KNOX["TOKEN_TTL"], and are revoked by
deleting their row: logout revokes the token the request used, "log out everywhere" and a password change
revoke every token of the user.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from knox.models import AuthToken


def api_token_create(*, user: AbstractBaseUser) -> str:
    """A new token for a script; only its digest is stored, so the key is shown this once."""
    _, key = AuthToken.objects.create(user=user)
    return key


def api_token_revoke(*, token: AuthToken) -> None:
    token.delete()


def api_tokens_revoke_all(*, user: AbstractBaseUser) -> int:
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted


@transaction.atomic
def user_password_set(*, user: AbstractBaseUser, password: str) -> None:
    """A new password ends every session of the user (Django checks each session's password hash) and
    revokes every API token, so whoever had the old password or a leaked token is out."""
    user.set_password(password)
    user.save(update_fields=["password"])
    api_tokens_revoke_all(user=user)
