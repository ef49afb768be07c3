# syntax=docker/dockerfile:1
# predictmarket's image: one image, every Procfile process.
#   docker build -t predictmarket .
#   web (default):  docker run --env-file .env -p 8000:8000 predictmarket
#   release:        docker run --env-file .env predictmarket python manage.py migrate --noinput
#   worker:         ... predictmarket celery -A predictmarket worker --loglevel=info
#   beat (one):     ... predictmarket celery -A predictmarket beat --loglevel=info
#   bot:            ... predictmarket python manage.py runbot
# compose.yaml runs them all with PostgreSQL and Redis. CI lints this file with hadolint.

# Debian bookworm, as on the development machines (pin a digest for reproducible builds).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ------------------------------------------------------------------------------
# Builder: the pinned requirements in a virtualenv (every one ships a manylinux
# wheel, so no compiler or headers are needed).
# ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir --require-virtualenv -r /tmp/requirements.txt

# ------------------------------------------------------------------------------
# Final: the virtualenv and the code, run as an unprivileged user.
# ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
# Production mode unless told otherwise: a container started without
# DJANGO_SECRET_KEY and ALLOWED_HOSTS refuses to start rather than run in debug
# mode with the development key.
ENV DJANGO_DEBUG=false \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    PORT=8000
RUN groupadd --system --gid 10001 predictmarket \
    && useradd --system --uid 10001 --gid predictmarket --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin predictmarket
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
# The code stays owned by root (read-only for the app); only var/ (beat's schedule,
# gunicorn's Prometheus multiprocess directory) is writable.
COPY . .
# Static files are collected at build time, in production mode (whitenoise's
# manifest storage), with a secret key that exists only during this step.
RUN DJANGO_SECRET_KEY=build-only-collectstatic-key-never-used-at-run-time-0123456789 \
    ALLOWED_HOSTS=build.invalid \
    python manage.py collectstatic --noinput --verbosity 0 \
    && rm -rf var \
    && mkdir -p var/prometheus \
    && chown -R predictmarket:predictmarket var
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "deploy/docker/healthcheck.py"]
CMD ["gunicorn", "predictmarket.wsgi", "--config", "python:predictmarket.gunicorn_conf"]
