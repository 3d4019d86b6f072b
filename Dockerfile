# syntax=docker/dockerfile:1
# Build: docker build -t moneytrail .
# Migrate (a separate step, never at app start):
#   docker run --rm -e MONEYTRAIL_DATABASE_URL=postgresql+psycopg://... moneytrail moneytrail db upgrade
# Serve:
#   docker run -p 8000:8000 -e MONEYTRAIL_DATABASE_URL=postgresql+psycopg://... moneytrail

FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY app ./app
COPY tracing ./tracing
COPY migrations ./migrations
RUN pip install .

FROM python:3.11-slim AS runtime
RUN useradd --system --uid 10001 --home-dir /srv/moneytrail --create-home moneytrail
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MONEYTRAIL_DATA_DIR=/srv/moneytrail/data \
    MONEYTRAIL_HOST=0.0.0.0
USER moneytrail
WORKDIR /srv/moneytrail
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)" || exit 1
CMD ["uvicorn", "--factory", "app.main:create_app", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
