"""Prometheus metrics of one app, or of a whole pod.

Under gunicorn, deploy/gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR before
any worker starts (prometheus_client's multiprocess mode): every worker
writes its values to its own files there, and a scrape, whichever worker
answers it, reads all of them into a collector registry made for that scrape.
So a scrape sees the pod, not the one worker it reached. Counters and
histograms add up over workers, dead ones included; gauges say how they add
up (`livesum`: over the workers alive). Values computed when scraped (a count
in the database) are computed by the worker that answers.

Without the variable (the embedded platform, tests, commands) each app keeps
its values in a registry of its own, and two apps in one process share nothing."""
from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

CONTENT_TYPE = "text/plain; version=0.0.4"


def multiprocess() -> bool:
    """Decided once, by prometheus_client, when it is first imported."""
    return values.ValueClass is not values.MutexValue


class Metrics:
    def __init__(self):
        self.multiprocess = multiprocess()
        self._own = CollectorRegistry()
        self._at_scrape: list = []

    @property
    def _registry(self) -> CollectorRegistry | None:
        # In multiprocess mode values live in the files, not in a registry.
        return None if self.multiprocess else self._own

    def counter(self, name: str, documentation: str, labels=()) -> Counter:
        return Counter(name, documentation, labels, registry=self._registry)

    def histogram(self, name: str, documentation: str, labels=(), buckets=Histogram.DEFAULT_BUCKETS) -> Histogram:
        return Histogram(name, documentation, labels, registry=self._registry, buckets=buckets)

    def gauge(self, name: str, documentation: str, labels=(), over_workers: str = "livesum") -> Gauge:
        """`over_workers`: how the workers' values make the pod's (prometheus_client's multiprocess_mode)."""
        return Gauge(name, documentation, labels, registry=self._registry, multiprocess_mode=over_workers)

    def at_scrape(self, collector) -> None:
        """A collector whose values are computed when scraped: the same from
        whichever worker computes them (what the database holds)."""
        self._at_scrape.append(collector)
        if not self.multiprocess:
            self._own.register(collector)

    def exposition(self) -> bytes:
        if not self.multiprocess:
            return generate_latest(self._own)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        for collector in self._at_scrape:
            registry.register(collector)
        return generate_latest(registry)


@dataclass(frozen=True)
class EventCounts:
    """What a service's relay published and its consumer handled, in every
    process of the pod that runs them."""
    published: object
    handled: object
    handled_together: object

    @classmethod
    def of(cls, metrics: Metrics, service: str) -> "EventCounts":
        return cls(
            metrics.gauge("events_published", "Events published by the relays of live processes",
                          ["service"]).labels(service),
            metrics.gauge("events_handled", "Events handled by the consumers of live processes",
                          ["service"]).labels(service),
            metrics.gauge("events_handled_together", "Of those, events applied in one transaction with others",
                          ["service"]).labels(service))


class _Uncounted:
    """Where nothing is counted: what a metric is counted into otherwise."""

    def inc(self, amount: float = 1) -> None:
        pass


UNCOUNTED_METRIC = _Uncounted()
UNCOUNTED = EventCounts(UNCOUNTED_METRIC, UNCOUNTED_METRIC, UNCOUNTED_METRIC)
