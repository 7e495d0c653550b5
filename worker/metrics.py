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
