"""A SQLite writer waiting for another's lock must not stop the embedded
platform's process: there every request, the outbox relay and the jobs are
greenlets of one thread, and the writer holding the lock may itself be
waiting on the network (a call's join on the media server)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import sys, time
    import gevent
    from services.common.db import open_database

    db = open_database("sqlite:///" + sys.argv[1])
    db.execute_sql("CREATE TABLE facts (name TEXT)")
    other = open_database("sqlite:///" + sys.argv[1])

    def holder():
        with db.atomic():
            db.execute_sql("INSERT INTO facts VALUES ('held')")
            gevent.sleep(0.5)  # an answer from another server, awaited with the lock held

    def writer():
        gevent.sleep(0.05)
        with other.atomic():
            other.execute_sql("INSERT INTO facts VALUES ('waited')")

    def autocommit_writer():
        gevent.sleep(0.05)
        other.execute_sql("INSERT INTO facts VALUES ('autocommit')")

    started = time.monotonic()
    gevent.joinall([gevent.spawn(holder), gevent.spawn(writer), gevent.spawn(autocommit_writer)], raise_error=True)
    rows = sorted(name for (name,) in db.execute_sql("SELECT name FROM facts").fetchall())
    print(rows, round(time.monotonic() - started, 2))
""")


def test_a_writer_waiting_for_the_lock_lets_the_holder_finish_under_gevent(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "facts.db")], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rows, seconds = done.stdout.rsplit(" ", 1)
    assert rows == "['autocommit', 'held', 'waited']"
    # SQLite's own busy wait held the whole process until its timeout (10 s) and failed.
    assert float(seconds) < 5, done.stdout
