# syntax=docker/dockerfile:1
# Build:  docker build -t moneytrail .
# Run (embedded SQLite in a named volume; the first start prints an admin key to the log):
#   docker run -d --name moneytrail -p 8000:8000 -v moneytrail-data:/srv/moneytrail/data moneytrail
#   docker logs moneytrail        # the admin key, framed, before "serving on"
# PostgreSQL instead: add -e MONEYTRAIL_DATABASE_URL=postgresql+psycopg://USER:PASS@HOST/DB
# The entrypoint runs `moneytrail db upgrade` before the command. Several replicas on one
# database: migrate once as its own step and start them with -e MONEYTRAIL_MIGRATE=false:
#   docker run --rm -e MONEYTRAIL_DATABASE_URL=... moneytrail moneytrail db upgrade
# FtM import/export (the `ftm` extra) is left out: PyICU builds from source, and this image
# installs wheels only; its routes answer 501 ftm_unavailable.

FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY app ./app
COPY tracing ./tracing
COPY migrations ./migrations
RUN pip install --only-binary :all: .
# Ahead-of-time kernel cache: the engine compiles once here, not at every container start.
ENV NUMBA_CACHE_DIR=/opt/numba-cache
RUN python -c "from app.trace.lifecycle import compile_engine; compile_engine()"

FROM python:3.11-slim AS runtime
RUN useradd --system --uid 10001 --home-dir /srv/moneytrail --create-home moneytrail \
    && mkdir /srv/moneytrail/data && chown moneytrail:moneytrail /srv/moneytrail/data
COPY --from=build /opt/venv /opt/venv
# Owned by the service user: numba refuses a cache directory it cannot write.
COPY --from=build --chown=moneytrail:moneytrail /opt/numba-cache /opt/numba-cache
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NUMBA_CACHE_DIR=/opt/numba-cache \
    MONEYTRAIL_DATA_DIR=/srv/moneytrail/data \
    MONEYTRAIL_HOST=0.0.0.0 \
    MONEYTRAIL_PORT=8000 \
    MONEYTRAIL_MIGRATE=true
VOLUME ["/srv/moneytrail/data"]
USER moneytrail
WORKDIR /srv/moneytrail
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)" || exit 1
ENTRYPOINT ["/bin/sh", "-c", "if [ \"$MONEYTRAIL_MIGRATE\" = true ]; then moneytrail db upgrade || exit 1; fi; exec \"$@\"", "--"]
CMD ["uvicorn", "--factory", "app.main:create_app", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
