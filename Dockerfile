# EventPay's images (Docker 20.10 or newer, BuildKit). Two targets:
#   production (the last stage, so the default): web (gunicorn), worker and beat, see docker-compose.yml;
#   offline: production plus the offline package (offline/, not in the wheel) and the [offline] extra
#            (localstripe), with settings pointing at it, for the compose file's offline profile.
#            Never deployed.
# The base images are build arguments: the official images by default, local stand-ins on a machine that
# cannot reach the registry (deploy/base-images.sh). Behind a TLS-intercepting proxy, give the proxy's CA
# bundle as the build secret `ca_bundle` (docker-compose.yml does, from BUILD_CA_BUNDLE): npm and pip
# trust it during the build, and it is never stored in a layer.
ARG NODE_IMAGE=node:20-bookworm-slim
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# 1. The React app, built with the locked dependencies.
FROM ${NODE_IMAGE} AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca_bundle; fi; \
    npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# 2. The project and its pinned dependencies as wheels (build tools stay in this stage).
FROM ${PYTHON_IMAGE} AS wheels
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY accounts/ accounts/
COPY core/ core/
COPY events/ events/
COPY payments/ payments/
COPY worker/ worker/
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi; \
    pip wheel --wheel-dir /wheels .

# 2b. The offline extra's wheels (localstripe, …), built only for the offline target.
FROM wheels AS offline-wheels
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi; \
    pip wheel --wheel-dir /wheels --find-links /wheels '.[offline]'

# 3. The runtime: the wheels installed, no source tree, no compilers, a user without privileges.
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=core.settings \
    DJANGO_DEBUG=false \
    DJANGO_STATIC_ROOT=/app/static \
    DJANGO_FRONTEND_DIST=/app/frontend \
    PORT=8000
RUN groupadd --system --gid 10001 eventpay \
    && useradd --system --uid 10001 --gid eventpay --home-dir /app --shell /usr/sbin/nologin eventpay
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels eventpay
WORKDIR /app
COPY --from=frontend /src/frontend/dist /app/frontend
# The gunicorn config ships inside the package; give it one stable path for the command line.
RUN ln -s "$(python -c 'import core, pathlib; print(pathlib.Path(core.__file__).with_name("gunicorn.conf.py"))')" \
        /app/gunicorn.conf.py
# Static files are collected (hashed and compressed) into the image once. Production settings refuse to
# load without a real key, and collectstatic needs none: a throwaway one, gone with this command.
RUN DJANGO_ALLOWED_HOSTS=build.invalid \
    DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    django-admin collectstatic --no-input
USER eventpay
EXPOSE 8000
# docker-compose.yml sets each service's command; alone, the image serves the web app.
CMD ["gunicorn", "--config", "/app/gunicorn.conf.py"]

# 4. Offline: the runtime plus the offline package and the [offline] extra (localstripe). Stripe is always
#    the compose file's localstripe, never Stripe, and production settings get try-out values for
#    http://localhost when unset (deploy/offline-entrypoint.sh).
FROM runtime AS offline
USER root
RUN --mount=type=bind,from=offline-wheels,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels 'eventpay[offline]'
# The offline package (localstripe's runner, the browser's route to it) is not in the wheel: beside it.
COPY offline/ /opt/eventpay-offline/offline/
COPY deploy/offline-entrypoint.sh /usr/local/bin/eventpay-offline-entrypoint
# The same values as ENV too, for `docker compose exec` (which skips the entrypoint) without an .env.
ENV PYTHONPATH=/opt/eventpay-offline \
    OFFLINE_STRIPE_SECRET_KEY=sk_offline_eventpay \
    OFFLINE_STRIPE_PUBLISHABLE_KEY=pk_offline_eventpay \
    OFFLINE_STRIPE_API_BASE=http://localstripe:8420 \
    OFFLINE_STRIPE_WEBHOOK_SECRET=whsec_offline_eventpay_compose \
    OFFLINE_DJANGO_SECRET_KEY=offline-try-out-only-this-key-is-public-never-deploy-the-offline-image
ENV STRIPE_SECRET_KEY=$OFFLINE_STRIPE_SECRET_KEY \
    STRIPE_PUBLISHABLE_KEY=$OFFLINE_STRIPE_PUBLISHABLE_KEY \
    STRIPE_API_BASE=$OFFLINE_STRIPE_API_BASE \
    STRIPE_WEBHOOK_SECRET=$OFFLINE_STRIPE_WEBHOOK_SECRET \
    DJANGO_SECRET_KEY=$OFFLINE_DJANGO_SECRET_KEY \
    DJANGO_ALLOWED_HOSTS=localhost,127.0.0.1,[::1],web \
    DJANGO_SECURE_SSL_REDIRECT=false \
    EMAIL_URL=smtp://mail:8025
RUN mkdir -p /var/lib/localstripe /var/lib/eventpay-mail && \
    chown eventpay:eventpay /var/lib/localstripe /var/lib/eventpay-mail
USER eventpay
ENTRYPOINT ["eventpay-offline-entrypoint"]
CMD ["gunicorn", "--config", "/app/gunicorn.conf.py"]

# 5. Production: the runtime as it is (last, so that a plain `docker build .` makes it).
FROM runtime AS production
