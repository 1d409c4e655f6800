# Stand-in for python:3.11-slim-bookworm, from Debian bookworm's packages (Python 3.11.2): `python`, `pip`
# and the console scripts pip installs are on the PATH, as in the official image (a virtualenv, so that
# pip never touches Debian's own Python packages).
ARG BASE
FROM ${BASE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /usr/local/python \
    && /usr/local/python/bin/python -m pip --version
ENV PATH=/usr/local/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8
CMD ["python3"]
