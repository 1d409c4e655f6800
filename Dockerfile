# syntax=docker/dockerfile:1
# EventPay's production image: one image for web (gunicorn), worker and beat (see docker-compose.yml).

# 1. The React app, built with the locked dependencies.
FROM node:20-bookworm-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# 2. The project and its pinned dependencies as wheels (build tools stay in this stage).
FROM python:3.11-slim-bookworm AS wheels
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core/ core/
COPY events/ events/
COPY payments/ payments/
COPY worker/ worker/
RUN pip wheel --wheel-dir /wheels .

# 3. The runtime: the wheels installed, no source tree, no compilers, a user without privileges.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=core.settings \
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
RUN DJANGO_DEBUG=false DJANGO_ALLOWED_HOSTS=build.invalid \
    DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    django-admin collectstatic --no-input
USER eventpay
EXPOSE 8000
# docker-compose.yml sets each service's command; alone, the image serves the web app.
CMD ["gunicorn", "--config", "/app/gunicorn.conf.py"]
