"""Prometheus metrics of the workers. `taskchat worker` points prometheus_client at a multiprocess
directory, and Dramatiq's Prometheus middleware serves them (with its own message metrics) on
`--metrics-port` (9191 by default)."""

from prometheus_client import Counter, Gauge, Histogram

RUNS = Counter("taskchat_runs_total", "Finished runs by outcome.", ["outcome"])
RUN_SECONDS = Histogram(
    "taskchat_run_duration_seconds",
    "Run duration, claim to answer.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
QUEUE_WAIT = Histogram(
    "taskchat_run_queue_wait_seconds",
    "Time from the message's acceptance to the run's start.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
IN_PROGRESS = Gauge("taskchat_runs_in_progress", "Runs being worked on.", multiprocess_mode="livesum")
TOOL_CALLS = Counter("taskchat_tool_calls_total", "Tool calls made by the agent.", ["tool", "status"])
MODEL_SECONDS = Histogram(
    "taskchat_model_call_duration_seconds",
    "Model latency per call (to the end of its stream).",
    buckets=(0.005, 0.05, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60),
)
MODEL_ERRORS = Counter("taskchat_model_errors_total", "Runs that failed in the model.", ["kind"])
REMINDERS_LATE = Histogram(
    "taskchat_reminder_delivery_delay_seconds",
    "Delivered reminders: from the reminder's time to its delivery.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
)

# The shared Gemini pace (worker/gemini.py, worker/pace.py).
LIMITER_WAIT = Histogram(
    "taskchat_model_limiter_wait_seconds",
    "Waits of model calls before sending, by reason: pace (the quota's queue), paused (a provider 429), "
    "unavailable (the breaker), retrying (backoff after a 5xx or timeout).",
    ["reason"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
RATE_LIMITED = Counter(
    "taskchat_model_rate_limited_total",
    "Provider 429s by model and quota (requests, tokens, day).",
    ["model", "quota"],
)
SERVER_ERRORS = Counter(
    "taskchat_model_server_errors_total",
    "Provider 5xx answers, timeouts and lost connections, by model.",
    ["model", "status"],
)
MODEL_FALLBACKS = Counter(
    "taskchat_model_fallbacks_total", "Model calls moved to a fallback model.", ["model"]
)
BREAKER = Gauge(
    "taskchat_model_breaker_state",
    "The shared circuit breaker as last seen: 0 closed, 1 half-open (a probe is out), 2 open.",
    ["model"],
    multiprocess_mode="mostrecent",
)
_BREAKER_STATES = {"closed": 0, "half": 1, "open": 2}
_breaker_seen: dict[str, str] = {}


def set_breaker(model: str, state: str) -> None:
    if _breaker_seen.get(model) != state:  # most calls see no change: skip the write
        _breaker_seen[model] = state
        BREAKER.labels(model).set(_BREAKER_STATES.get(state, 0))
