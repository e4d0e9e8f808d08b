"""A scrape sees the whole pod: every gunicorn worker writes its metrics where
the worker answering the scrape reads them all (prometheus_client's
multiprocess mode), for a service and for the gateway; the gauges counted at
scrape time stay right, and a dead worker leaves the live sums."""
import os
import re
import signal
import uuid
from pathlib import Path

import pytest
import requests
import websocket
from prometheus_client.multiprocess import MultiProcessCollector

from devkit.distributed import Cluster
from devkit.helpers import Api, phone, wait_for

pytestmark = pytest.mark.integration
CONNECTIONS_PER_WORKER = 6


def per_worker(directory: Path, prefix: str, metric: str, **labels) -> dict[int, float]:
    """Each worker's own value of a metric, read from its file."""
    values = {}
    for path in directory.glob(f"{prefix}_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        for family in MultiProcessCollector.merge([str(path)]):
            for sample in family.samples:
                if sample.name == metric and labels.items() <= sample.labels.items():
                    values[pid] = values.get(pid, 0) + sample.value
    return values


def scraped(url: str, metric: str, **labels) -> float:
    text = requests.get(url + "/metrics", headers={"Connection": "close"}, timeout=10).text
    total = None
    for line in text.splitlines():
        match = re.fullmatch(rf"{metric}(?:{{(.*)}})? (\S+)", line)
        if match and labels.items() <= dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or "")).items():
            total = (total or 0) + float(match.group(2))
    assert total is not None, f"{metric} {labels} not in the scrape"
    return total


def test_one_scrape_sees_every_worker_of_a_service_and_of_the_gateway(rabbitmq_server, postgres_server, tmp_path):
    amqp_url = rabbitmq_server.add_vhost(f"metrics-{uuid.uuid4().hex[:8]}")
    identity_dir, gateway_dir = tmp_path / "identity-metrics", tmp_path / "gateway-metrics"
    cluster = Cluster(amqp_url, {"identity": postgres_server.create_database(f"m_identity_{uuid.uuid4().hex[:8]}")},
                      log_dir=tmp_path / "logs")
    try:
        cluster.start_service("identity", workers=2, threads=2, PROMETHEUS_MULTIPROC_DIR=identity_dir)
        # A gevent worker holding its GUNICORN_WORKER_CONNECTIONS accepts no more: the
        # next streams reach the other worker, whichever of them the kernel favours.
        cluster.start_gateway(workers=2, PROMETHEUS_MULTIPROC_DIR=gateway_dir,
                              GUNICORN_WORKER_CONNECTIONS=CONNECTIONS_PER_WORKER)
        cluster.wait_ready(["identity"], timeout=90)
        identity, gateway = cluster.url("identity"), cluster.internal_url("gateway")
        wait_for(lambda: requests.get(gateway + "/readyz/self", timeout=2).status_code == 200, timeout=60,
                 message="the gateway's realtime feed")

        # Requests on connections of their own, until both workers have answered some.
        def both_answered():
            for _ in range(10):
                assert requests.get(identity + "/healthz", headers={"Connection": "close"}, timeout=5).ok
            counts = per_worker(identity_dir, "counter", "http_requests_total", route="/healthz")
            return len([n for n in counts.values() if n]) == 2

        wait_for(both_answered, timeout=60, message="both identity workers answering")
        answered = sum(per_worker(identity_dir, "counter", "http_requests_total", route="/healthz").values())
        for _ in range(6):  # whichever worker answers the scrape
            assert scraped(identity, "http_requests_total", service="identity", route="/healthz") == answered
            assert scraped(identity, "outbox_backlog", service="identity") >= 0
            assert scraped(identity, "events_published", service="identity") >= 0

        # Streams of different users, until both gateway workers hold some.
        api, streams = Api(cluster.url("gateway")), []
        url = cluster.url("gateway").replace("http://", "ws://") + "/api/v1/stream"

        def both_hold_streams():
            tokens = api.sign_in(phone(5000 + len(streams)))["access_token"]
            streams.append(websocket.create_connection(url, header=[f"Authorization: Bearer {tokens}"], timeout=10))
            streams[-1].recv()  # stream.ready
            held = per_worker(gateway_dir, "gauge_livesum", "realtime_connected_users")
            return len([n for n in held.values() if n]) == 2

        wait_for(both_hold_streams, timeout=90, interval=0, message="streams on both gateway workers")
        assert len(streams) <= 2 * CONNECTIONS_PER_WORKER
        for _ in range(6):
            assert scraped(gateway, "realtime_connected_users") == len(streams)
        assert scraped(gateway, "http_requests_total", service="gateway", route="/api/v1/<path:path>") >= 3 * len(
            streams)

        # A worker that dies takes its users out of the sum (its sockets are gone with it).
        held = per_worker(gateway_dir, "gauge_livesum", "realtime_connected_users")
        victim = min(held, key=lambda pid: held[pid])
        os.kill(victim, signal.SIGKILL)
        survivors = sum(n for pid, n in held.items() if pid != victim)
        wait_for(lambda: scraped(gateway, "realtime_connected_users") == survivors, timeout=30,
                 message="the dead worker's users out of the sum")
        for stream in streams:
            stream.close()
        wait_for(lambda: scraped(gateway, "realtime_connected_users") == 0, timeout=30, message="no users left")
    finally:
        cluster.close()
