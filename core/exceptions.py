class ApplicationError(Exception):
    """A domain error raised by a service; the API's exception handler maps it to HTTP."""

    status_code = 400

    def __init__(self, message: str, *, status_code: int | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.extra = extra or {}


class NotFound(ApplicationError):
    status_code = 404


class Conflict(ApplicationError):
    status_code = 409


# Every 503 says when to try again (Retry-After): a dependency that refused (the database restarting, Stripe
# unreachable) is usually back within seconds.
RETRY_UNAVAILABLE_AFTER_SECONDS = 5


class ServiceUnavailable(ApplicationError):
    status_code = 503
