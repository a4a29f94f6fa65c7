FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir .
COPY . .
RUN python manage.py compilemessages --ignore=.venv -v0 \
    && DEBUG=false SECRET_KEY=build-only python manage.py collectstatic --no-input -v0
RUN useradd --create-home portal && mkdir -p /app/var/beat /app/var/private-media \
    && chown -R portal /app/var
USER portal
EXPOSE 8000
CMD ["gunicorn", "disputes_portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2"]
