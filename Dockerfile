# syntax=docker/dockerfile:1
# Build stage: resolve the locked dependencies into a virtualenv.
FROM python:3.11-slim AS build
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY taskchat ./taskchat
COPY api ./api
COPY common ./common
COPY mcp_tools ./mcp_tools
COPY worker ./worker
RUN uv sync --frozen --no-dev --no-editable

# Runtime stage: the virtualenv only, run as an unprivileged user.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 taskchat
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 TASKCHAT_HOME=/home/taskchat/.taskchat
USER taskchat
WORKDIR /home/taskchat
EXPOSE 8000 8001
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["taskchat", "api", "--host", "0.0.0.0", "--port", "8000"]
