"""What one post costs: the messaging app in this process on a throwaway
PostgreSQL (fsync on), one teacher posting into a group chat through the
app's WSGI interface, one post at a time. Prints, per post, the wall time,
this process's CPU and PostgreSQL's CPU, and how many queries the app sent
(COMMIT besides). Steadier than the whole-platform benchmark when the host's
speed varies: nothing else competes for the cores, and with --compare-unprepared
rounds with and without prepared statements alternate.

    .venv/bin/python tests/perf/bench_post.py
    .venv/bin/python tests/perf/bench_post.py --compare-unprepared
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from bench_messaging import cpu_by_label  # noqa: E402

from services.common.auth import Principal  # noqa: E402
from services.common.config import Settings  # noqa: E402
from devkit.helpers import TokensAreUserIds, dev_env  # noqa: E402
from devkit.servers import PostgresServer  # noqa: E402
from services.common.wsgi import build  # noqa: E402


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=1000, help="per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--idempotency-keys", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--compare-unprepared", action="store_true",
                        help="alternate rounds with prepared statements off (DATABASE_URL ?prepare=0)")
    args = parser.parse_args(argv)

    postgres = PostgresServer(durable=True)
    postgres.start()
    try:
        url = postgres.create_database(f"post_{uuid.uuid4().hex[:8]}")
        app = build("messaging", Settings.from_env("messaging", dev_env(Path(tempfile.mkdtemp()), DATABASE_URL=url)))
        runtime = app.extensions["sferum"]
        runtime.migrate()
        app.extensions["sferum.verifier"] = TokensAreUserIds()
        from services.messaging import chats, handlers, official

        teacher = Principal(id="t" * 32, session_id=None)
        with runtime.connection(), runtime.db.atomic():
            official.member_joined(runtime.service, "org", teacher.id, ["teacher"], None)
            handlers.teacher_verified(runtime.service, {"data": {"org_id": "org", "user_id": teacher.id}})
            chat_id = chats.create(runtime.service, teacher, "org", "group", "Кружок", [], []).id
        client = app.test_client()
        queries = {"count": 0}
        runtime.db.query_hooks.append(lambda _event: queries.__setitem__("count", queries["count"] + 1))

        def post_round(posts: int) -> dict:
            groups = {"postgresql": postgres._process.pid if postgres._process else -1}
            before, cpu, started = cpu_by_label(groups, {}), time.process_time(), time.perf_counter()
            counted = queries["count"]
            for n in range(posts):
                headers = {"Authorization": f"Bearer {teacher.id}"}
                if args.idempotency_keys:
                    headers["Idempotency-Key"] = str(uuid.uuid4())
                answer = client.post(f"/api/v1/chats/{chat_id}/messages", json={"text": f"Домашнее задание {n}"},
                                     headers=headers)
                assert answer.status_code == 201, answer.get_json()
            after = cpu_by_label(groups, {})
            return {"wall": (time.perf_counter() - started) / posts * 1000,
                    "app": (time.process_time() - cpu) / posts * 1000,
                    "postgresql": (after["postgresql"] - before["postgresql"]) / posts * 1000,
                    "queries": (queries["count"] - counted) / posts}

        settings = [True, False] if args.compare_unprepared else [True]
        post_round(200)  # warm up: imports, plans, the pool
        print(f"{'prepared':<9} {'wall ms':>8} {'app CPU ms':>10} {'PostgreSQL CPU ms':>17} {'queries':>8}")
        for _ in range(args.rounds):
            for prepared in settings:
                runtime.db.prepare_statements = prepared
                figures = post_round(args.posts)
                print(f"{'yes' if prepared else 'no':<9} {figures['wall']:8.2f} {figures['app']:10.2f} "
                      f"{figures['postgresql']:17.2f} {figures['queries']:8.1f}")
    finally:
        postgres.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
