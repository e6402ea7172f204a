# One image for every Opsroom service: ingest, rules, dashboard, simulate.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY opsroom ./opsroom
COPY ingest ./ingest
COPY rules ./rules
COPY dashboard ./dashboard
COPY simulators ./simulators
COPY examples ./examples
RUN pip install ".[dashboard]" \
    && useradd --system --uid 10001 --home-dir /data opsroom \
    && mkdir -p /data && chown opsroom /data
USER opsroom
WORKDIR /data
ENTRYPOINT ["opsroom"]
CMD ["--help"]
