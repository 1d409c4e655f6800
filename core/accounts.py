"""Account rules: API tokens (django-rest-knox), passwords, and the links that reset a password or verify an
address (the account API in `accounts/` records their emails in the outbox; a worker makes the link and
sends it).

Tokens are stored as SHA-512 digests (knox), expire after REST_KNOX["TOKEN_TTL"], and are revoked by
deleting their row: logout revokes the token the request used, "log out everywhere" and a password change
revoke every token of the user.
"""

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.db import transaction
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from knox.models import AuthToken

from core.models import VerifiedEmail


def api_token_create(*, user: User) -> str:
    """A new token for a script; only its digest is stored, so the key is shown this once."""
    _, key = AuthToken.objects.create(user=user)
    return key


def api_token_revoke(*, token: AuthToken) -> None:
    token.delete()


def api_tokens_revoke_all(*, user: User) -> int:
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted


@transaction.atomic
def user_password_set(*, user: User, password: str) -> None:
    """A new password ends every session of the user (Django checks each session's password hash) and
    revokes every API token, so whoever had the old password or a leaked token is out."""
    user.set_password(password)
    user.save(update_fields=["password"])
    api_tokens_revoke_all(user=user)


def password_reset_users(*, email: str) -> list[User]:
    """The accounts a reset request for this address emails a link to (the caller records the emails and
    answers the same whatever the count, so the answer reveals no account): each active account with a
    usable password whose address is this one and verified. A stranger who registered with someone else's
    address cannot have the owner of that address mailed."""
    return [
        u
        for u in User.objects.filter(verified_email__email__iexact=email, email__iexact=email, is_active=True)
        if u.has_usable_password()
    ]


def password_reset_link(*, user: User) -> str:
    """A single-use link to set a new password, made when the email is sent (it is never stored).

    It carries Django's PasswordResetTokenGenerator token: derived from the password hash and the last
    login, so it stops working once used (or once the user logs in), and after PASSWORD_RESET_TIMEOUT."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return f"{settings.SITE_URL.rstrip('/')}/reset-password/{uid}/{default_token_generator.make_token(user)}"


def password_reset_user(*, uid: str, token: str) -> User | None:
    """The user a reset link is for, or None when the link is malformed, used or expired."""
    try:
        user = User.objects.get(pk=urlsafe_base64_decode(uid).decode())
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        return None
    return user if user.is_active and default_token_generator.check_token(user, token) else None


EMAIL_VERIFICATION_SALT = "core.accounts.email_verification"


def email_is_verified(*, user: User) -> bool:
    return VerifiedEmail.objects.filter(user=user, email__iexact=user.email).exists()


def email_verification_link(*, user: User, email: str) -> str:
    """A link that proves the user reads this address: the user and the address, signed
    (django.core.signing), valid EMAIL_VERIFICATION_MAX_AGE_HOURS; made when the email is sent."""
    key = signing.dumps({"user": user.pk, "email": email}, salt=EMAIL_VERIFICATION_SALT)
    return f"{settings.SITE_URL.rstrip('/')}/verify-email/{key}"


def email_verify(*, key: str) -> User | None:
    """Marks the address of a verification link verified; None when the link is forged, expired, or for an
    address the user has since changed."""
    try:
        data = signing.loads(
            key, salt=EMAIL_VERIFICATION_SALT, max_age=settings.EMAIL_VERIFICATION_MAX_AGE_HOURS * 3600
        )
        user = User.objects.get(pk=data["user"], is_active=True)
    except (signing.BadSignature, KeyError, TypeError, User.DoesNotExist):
        return None
    if user.email.lower() != str(data["email"]).lower():
        return None
    VerifiedEmail.objects.update_or_create(user=user, defaults={"email": user.email})
    return user
