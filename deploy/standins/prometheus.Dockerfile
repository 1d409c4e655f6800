# Stand-in for prom/prometheus, from Debian bookworm's `prometheus` package (Prometheus 2.42). As in the
# official image: the entrypoint is the prometheus binary (the command line gives only its flags), promtool
# on the PATH, the configuration in /etc/prometheus, the data in /prometheus, the server running as `nobody`.
ARG BASE
FROM ${BASE}
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
    && apt-get update \
    && apt-get install -y --no-install-recommends prometheus ca-certificates \
    && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d \
    && mkdir -p /prometheus && chown nobody:nogroup /prometheus
USER nobody
VOLUME /prometheus
WORKDIR /prometheus
ENTRYPOINT ["/usr/bin/prometheus"]
EXPOSE 9090
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
