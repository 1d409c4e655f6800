"""Account services: API tokens (django-rest-knox) and passwords.

Tokens are stored as SHA-512 digests (knox), expire after REST_KNOX["TOKEN_TTL"], and are revoked by
deleting their row: logout revokes the token the request used, "log out everywhere" and a password change
revoke every token of the user.
"""

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.mail import get_connection, send_mail
from django.db import transaction
from django.template.loader import render_to_string
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


def password_reset_request(*, email: str) -> int:
    """Emails a single-use link to set a new password to each active account with this address; returns how
    many were sent. The caller answers the same whatever the count, so the answer reveals no account.

    The link carries Django's PasswordResetTokenGenerator token: it is derived from the password hash and
    the last login, so it stops working once used (or once the user logs in), and after
    PASSWORD_RESET_TIMEOUT."""
    # Only to a verified address: a stranger who registered with someone else's address cannot have the
    # owner of that address mailed.
    users = [
        u
        for u in User.objects.filter(verified_email__email__iexact=email, email__iexact=email, is_active=True)
        if u.has_usable_password()
    ]
    site = settings.SITE_URL.rstrip("/")
    for user in users:
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        context = {
            "user": user,
            "reset_url": f"{site}/reset-password/{uid}/{default_token_generator.make_token(user)}",
            "valid_hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        }
        _account_email_send(template="password_reset", to=user.email, context=context)
    return len(users)


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


def email_verification_send(*, user: User) -> None:
    """Emails a link that proves the user reads their address: the user and the address, signed
    (django.core.signing), valid EMAIL_VERIFICATION_MAX_AGE_HOURS."""
    key = signing.dumps({"user": user.pk, "email": user.email}, salt=EMAIL_VERIFICATION_SALT)
    context = {
        "user": user,
        "verify_url": f"{settings.SITE_URL.rstrip('/')}/verify-email/{key}",
        "valid_hours": settings.EMAIL_VERIFICATION_MAX_AGE_HOURS,
    }
    _account_email_send(template="email_verification", to=user.email, context=context)


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


def _account_email_send(*, template: str, to: str, context: dict[str, object]) -> None:
    send_mail(
        subject=render_to_string(f"core/email/{template}.subject.txt", context).strip(),
        message=render_to_string(f"core/email/{template}.txt", context),
        from_email=None,
        recipient_list=[to],
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT),
    )
