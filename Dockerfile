# API, worker and cron image (docker-compose.yml runs all three from it): the runtime packages only.
# The tests run in the `test` stage below, which adds requirements-dev.txt (docker compose --profile test).
FROM python:3.11-slim AS app

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    FLASK_APP=wsgi \
    HOST=0.0.0.0 \
    PORT=8000

# Every requirement ships a manylinux wheel (psycopg-binary bundles libpq, shapely/pyproj bundle GEOS
# and PROJ), so no compiler or -dev packages are needed. Installed first: code changes keep this layer.
# requirements.txt pins every package with its hashes (make lock); pip refuses anything else.
COPY requirements.txt /tmp/requirements.txt
RUN pip install --require-hashes -r /tmp/requirements.txt && rm /tmp/requirements.txt

RUN useradd --create-home --uid 10001 --user-group app
WORKDIR /app
COPY --chown=app:app . .
# Uploads (UPLOAD_DIR defaults to /app/var/uploads) and metric files (var/metrics) must be writable by the app
# user; docker-compose.yml mounts volumes there.
RUN mkdir -p var/uploads var/metrics && chown -R app:app var
USER app

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/v1/readyz', timeout=2)"
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]

# The test suite's image: the service's, plus pytest and the other tools of requirements-dev.txt (which pins
# the runtime packages at the same versions, so nothing above changes).
FROM app AS test
USER root
COPY requirements-dev.txt /tmp/requirements-dev.txt
RUN pip install --require-hashes -r /tmp/requirements-dev.txt && rm /tmp/requirements-dev.txt
USER app

# The default target (a build without --target): the service image, without the test stage's packages.
FROM app
