"""The login lockout (django-axes's cache handler, `AXES_HANDLER`), with a softer limit per username.

axes locks a client on the (username, address) pair and an address whatever the usernames, after
`LOGIN_FAILURE_LIMIT` failures; failures during a lockout do not extend it. So a stranger guessing at an
account never locks its owner out, however slowly they keep at it. What axes cannot do is slow a guess
spread over many addresses: that is this handler's part. Every failure counts against its username in a
fixed window of `LOGIN_USERNAME_LOCKOUT_MINUTES`; once `LOGIN_USERNAME_FAILURE_LIMIT` (higher than the
pair's) are reached the username is locked until the window ends, and never longer: failures during the
lockout are not counted, and the next window starts from nothing.
"""

from __future__ import annotations

import hashlib
import math

from axes.handlers.cache import AxesCacheHandler
from axes.helpers import get_client_username
from django.conf import settings
from django.utils import timezone


class LoginLockoutHandler(AxesCacheHandler):
    def is_locked(self, request, credentials: dict | None = None) -> bool:
        if super().is_locked(request, credentials):
            return True
        username = get_client_username(request, credentials)
        if not username:
            return False
        key, seconds_left = _username_window(username)
        if self.cache.get(key, default=0) < settings.LOGIN_USERNAME_FAILURE_LIMIT:
            return False
        request.login_lockout_seconds = seconds_left  # for the answer's Retry-After
        return True

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        locked_already = request is not None and getattr(request, "axes_locked_out", False)
        super().user_login_failed(sender, credentials, request, **kwargs)
        username = request is not None and get_client_username(request, credentials)
        if locked_already or not username or self.is_whitelisted(request, credentials):
            return
        key, seconds_left = _username_window(username)
        self.cache.add(key, 0, timeout=seconds_left)
        if self.cache.incr(key) >= settings.LOGIN_USERNAME_FAILURE_LIMIT and not request.axes_locked_out:
            # The failure that reaches the limit is answered as locked, as axes answers its own.
            request.login_lockout_seconds = seconds_left
            request.axes_locked_out = True
            request.axes_credentials = credentials


def _username_window(username: str) -> tuple[str, int]:
    """The cache key counting `username`'s failures in the current window, and the seconds left in it."""
    window = int(settings.LOGIN_USERNAME_LOCKOUT.total_seconds())
    now = timezone.now().timestamp()
    digest = hashlib.sha256(username.encode()).hexdigest()
    return f"login-username-failures:{digest}:{int(now // window)}", max(1, math.ceil(window - now % window))
