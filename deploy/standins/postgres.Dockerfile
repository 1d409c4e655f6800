# Stand-in for postgres:17-bookworm, from Debian bookworm's packages (PostgreSQL 15). It honours what the
# official image's users rely on: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA
# (/var/lib/postgresql/data), pg_isready and psql on the PATH, the server running as `postgres`.
ARG BASE
FROM ${BASE}
RUN mkdir -p /etc/postgresql-common \
    && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf \
    && printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
    && apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d \
    && mkdir -p /var/run/postgresql /var/lib/postgresql/data \
    && chown -R postgres:postgres /var/run/postgresql /var/lib/postgresql \
    && chmod 2777 /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
# Fast shutdown, as the official image: SIGINT rolls back open transactions and stops cleanly.
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
