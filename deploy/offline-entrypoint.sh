#!/bin/sh
# The offline image's entrypoint: Stripe is always the compose file's `localstripe` service, whatever an
# .env says (this image never talks to Stripe), and the settings production needs get try-out values when
# empty: a key that is no secret, the hosts the stack is called by (`web` for localstripe's webhooks),
# plain http on localhost, and the profile's own SMTP server (`mail`, which keeps every email).
set -eu
export STRIPE_SECRET_KEY="$OFFLINE_STRIPE_SECRET_KEY"
export STRIPE_PUBLISHABLE_KEY="$OFFLINE_STRIPE_PUBLISHABLE_KEY"
export STRIPE_API_BASE="$OFFLINE_STRIPE_API_BASE"
export STRIPE_WEBHOOK_SECRET="$OFFLINE_STRIPE_WEBHOOK_SECRET"
export DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-$OFFLINE_DJANGO_SECRET_KEY}"
export DJANGO_ALLOWED_HOSTS="${DJANGO_ALLOWED_HOSTS:-localhost,127.0.0.1,[::1]},web"
export DJANGO_SECURE_SSL_REDIRECT="${DJANGO_SECURE_SSL_REDIRECT:-false}"
export EMAIL_URL="${EMAIL_URL:-smtp://mail:8025}"
exec "$@"
