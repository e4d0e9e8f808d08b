"""The soak under faults (`make faults`), shortened: the distributed mode
with every service's relay and consumer in a worker process of its own,
posting through the gateway for 35 seconds with a trickle of joins, transfers,
expulsions and polls while RabbitMQ is restarted three times, PostgreSQL
once, and three processes are killed (a messaging web worker, messaging's
worker process, the gateway's worker). Nothing accepted is lost or doubled,
and every other check of the soak holds (tests/perf/faults.py)."""
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "perf"))

import faults  # noqa: E402


def test_nothing_lost_doubled_or_wrong_through_restarts_and_kills(tmp_path):
    args = faults.parser().parse_args([
        "--schools", "2", "--classes", "2", "--students", "5", "--movers", "2", "--parents", "1",
        "--rate", "20", "--duration", "35", "--trickle-seconds", "3", "--restarts", "3",
        "--database-restarts", "1", "--outage-seconds", "2", "--kills", "3", "--replays", "50",
        "--settle-seconds", "120", "--out", str(tmp_path)])
    report = faults.run(args)
    figures = report["figures"]
    assert (figures["broker_restarts"], figures["database_restarts"], figures["kills"]) == (3, 1, 3), report["faults"]
    assert figures["accepted"] >= 0.9 * args.rate * args.duration, report["posts"]
    assert report["trickle"]["done"].get("transfer") and report["trickle"]["done"].get("poll"), report["trickle"]
    assert report["pushes"]["expected"] > 0
    assert (figures["lost"], figures["duplicated"], figures["wrong"]) == (0, 0, 0), report["wrong"]
