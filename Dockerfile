# Infirmary production image: non-root, WeasyPrint's libraries and fonts baked in, front-end
# assets installed at build time from the npm registry (nothing is fetched at run time).
FROM node:20-bookworm-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 INFIRMARY_ENV=production
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
      fonts-noto-cjk fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 infirmary
WORKDIR /srv/infirmary
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY --chown=infirmary:infirmary . .
COPY --from=assets --chown=infirmary:infirmary /build/node_modules ./node_modules
RUN python scripts/assets.py && rm -rf node_modules
USER infirmary
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "8", "wsgi:app"]
