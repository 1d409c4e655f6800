"""The account API: sign-up, log-in and tokens, passwords, email verification.

The rules live in `core/accounts.py` (tokens, passwords, the links' signatures); this package sits above
`payments` because the account emails go through the same outbox as every other email
(`payments/services/notifications.py`): a row written with the request, sent by a worker exactly once.
"""
