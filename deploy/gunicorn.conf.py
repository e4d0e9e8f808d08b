"""gunicorn settings for every service and the gateway, from the environment.

Services: gthread workers (plain request/response; the outbox relay and the
event consumer run as threads in each worker). The gateway: gevent workers,
which hold the WebSockets; gunicorn's gevent worker monkey-patches the worker
before the app is imported."""
import gc
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "2000"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
accesslog = None  # the apps log every request as JSON with its request id
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn >= 25.1 opens a control socket under $HOME/.gunicorn by default: the
# containers' home is read-only, and under `make distributed` every gunicorn
# would share one path. Older gunicorns ignore the unknown setting.
control_socket_disable = True


def post_worker_init(worker):
    """The app's own objects (modules, schemas, routes) live as long as the
    worker: frozen out of the collector's way, a full collection in a busy
    hour walks only what requests made, and young ones run less often."""
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
