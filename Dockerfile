# Infirmary production image: non-root, WeasyPrint's libraries and fonts baked in, front-end
# assets installed at build time from the npm registry (nothing is fetched at run time).
# One image for every role; docker-compose.yml picks the command:
#   web        gunicorn -c gunicorn.conf.py wsgi:app   (the default CMD; one worker, many threads)
#   migrate    flask --app wsgi db upgrade
#   worker     flask --app wsgi worker
#   scheduler  flask --app wsgi scheduler
FROM node:20-bookworm-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    INFIRMARY_ENV=production INFIRMARY_INSTANCE=/srv/infirmary/instance \
    FLASK_APP=wsgi GUNICORN_BIND=0.0.0.0:8000
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
      fonts-noto-cjk fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 infirmary
WORKDIR /srv/infirmary
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
# The code belongs to root and is read-only for the service user; only instance/ is writable.
COPY . .
COPY --from=assets /build/node_modules ./node_modules
RUN python scripts/assets.py && rm -rf node_modules \
 && mkdir -p instance && chown infirmary:infirmary instance
USER infirmary
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
