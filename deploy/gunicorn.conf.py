"""gunicorn settings for every service and the gateway, from the environment.

Services: gthread workers (plain request/response; the outbox relay and the
event consumer run as threads in each worker). The gateway: gevent workers,
which hold the WebSockets; gunicorn's gevent worker monkey-patches the worker
before the app is imported."""
import gc
import os
import resource
import shutil
import tempfile

bind = [f"0.0.0.0:{os.environ.get('PORT', '8000')}"]
# The gateway's second listener: readiness details and metrics, which the
# ingress never reaches (gateway/internal.py).
if os.environ.get("INTERNAL_PORT"):
    bind.append(f"0.0.0.0:{os.environ['INTERNAL_PORT']}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# A gevent worker holds at most this many connections, each open WebSocket one
# of them; beyond it, connections wait unanswered in the listen backlog. An
# idle stream costs the gateway's worker about 50 KiB (README, "Many idle
# streams"): size the pod's memory for what its workers may hold.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS",
                                        "25000" if worker_class == "gevent" else "2000"))
backlog = int(os.environ.get("GUNICORN_BACKLOG", "2048"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5

# Every connection is a file descriptor, and a container's soft limit is often
# 1024 while its hard limit is far higher: beyond the soft one, accept() fails.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _hard != resource.RLIM_INFINITY and _soft != resource.RLIM_INFINITY and _soft < _hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))
accesslog = None  # the apps log every request as JSON with its request id
errorlog = "-"
# Both logs lose the secrets a URL may carry (invite tokens, the stream's token or ticket).
logger_class = "services.common.serving.RedactingLogger"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn >= 25.1 opens a control socket under $HOME/.gunicorn by default: the
# containers' home is read-only, and under `make distributed` every gunicorn
# would share one path. Older gunicorns ignore the unknown setting.
control_socket_disable = True

# Metrics of every worker in one scrape (services/common/metrics.py): set before
# any worker imports prometheus_client. Without a directory of the operator's,
# each gunicorn makes its own (under /tmp, an emptyDir in Kubernetes).
_own_metrics_directory = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _own_metrics_directory:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="sferum-metrics-")


def on_starting(server):
    """Values of an earlier run (a restarted container keeps its emptyDir) are
    not this pod's."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    """A dead worker's gauges (connected users, events handled) leave the pod's
    sums; its counters and histograms stay in them."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_directory:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def post_worker_init(worker):
    """The app's own objects (modules, schemas, routes) live as long as the
    worker: frozen out of the collector's way, a full collection in a busy
    hour walks only what requests made, and young ones run less often."""
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
