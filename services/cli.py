"""Operations commands:

  python -m services migrate <service>|all     apply pending migrations
  python -m services worker <service>          outbox relay + event consumer, no HTTP
  python -m services create-region NAME        orgstructure: a region the operator serves
  python -m services rotate-keys               identity: a new token signing key
  python -m services dlq <service> list|replay read or replay a dead-letter queue (pika)
  python -m services embedded                  the whole platform in one process (make run)
  python -m services distributed               every service as its own gunicorn (make distributed)
"""
from __future__ import annotations

import argparse
import json
import signal
import threading

from .common.config import SERVICES, Settings
from .common.logs import configure_logging
from .common.wsgi import build


def migrate(names: list[str]) -> None:
    for name in (SERVICES if names == ["all"] else names):
        runtime = build(name).extensions["sferum"]
        applied = runtime.migrate()
        print(f"{name}: {', '.join(applied) if applied else 'up to date'}")


def worker(name: str) -> None:
    runtime = build(name).extensions["sferum"]
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    runtime.start_workers()
    stop.wait()
    runtime.stop_workers()


def rotate_keys(grace_seconds: int | None) -> None:
    from .identity import signing_keys
    from .identity.config import IdentityConfig

    app = build("identity")
    settings = app.extensions["sferum"].settings
    grace = grace_seconds if grace_seconds is not None else IdentityConfig.from_settings(settings).access_ttl + 60
    with app.extensions["sferum"].db.connection_context():
        key = signing_keys.rotate(settings.secret_key, grace)
    print(f"new signing key {key.kid}; older keys stay published for {grace}s")


def create_region(name: str) -> None:
    from .orgstructure import registration

    runtime = build("orgstructure").extensions["sferum"]
    with runtime.db.connection_context():
        region = registration.create_region(name)
    print(f"region {region.id}: {region.name}")


def dead_letters(name: str, action: str, limit: int) -> None:
    """Reads `<service>.dlq` with pika (an independent client): `list` shows the
    messages and puts them back; `replay` hands each back to this service alone
    (through `sferum.retry`, which routes by service name: the other services
    that once received the event do not get it again) and removes it from the
    dead-letter queue."""
    import pika

    settings = Settings.from_env(name)
    connection = pika.BlockingConnection(pika.URLParameters(settings.amqp_url))
    channel = connection.channel()
    channel.confirm_delivery()
    queue = f"{name}.dlq"
    seen = []
    try:
        for _ in range(limit):
            method, properties, body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                break
            headers = dict(properties.headers or {})
            seen.append(method.delivery_tag)
            envelope = json.loads(body)
            print(json.dumps({"id": envelope.get("id"), "type": envelope.get("type"),
                              "error": headers.get("x-error"), "attempts": headers.get("x-attempts"),
                              "failed_at": headers.get("x-failed-at")}, ensure_ascii=False))
            if action == "replay":
                headers.pop("x-attempts", None)
                channel.basic_publish("sferum.retry", name, body, pika.BasicProperties(
                    content_type="application/json", delivery_mode=2,
                    message_id=properties.message_id, headers=headers), mandatory=True)
                channel.basic_ack(method.delivery_tag)
        if action == "list" and seen:
            channel.basic_nack(seen[-1], multiple=True, requeue=True)
    finally:
        connection.close()
    print(f"{len(seen)} message(s) {'replayed' if action == 'replay' else 'listed'} from {queue}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("migrate")
    p.add_argument("services", nargs="+", choices=[*SERVICES, "all"])
    p = commands.add_parser("worker")
    p.add_argument("service", choices=SERVICES)
    p = commands.add_parser("create-region")
    p.add_argument("name")
    p = commands.add_parser("rotate-keys")
    p.add_argument("--grace-seconds", type=int)
    p = commands.add_parser("dlq")
    p.add_argument("service", choices=SERVICES)
    p.add_argument("action", choices=["list", "replay"])
    p.add_argument("--limit", type=int, default=1000)
    p = commands.add_parser("embedded")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    commands.add_parser("distributed")
    args = parser.parse_args(argv)
    configure_logging()
    if args.command == "migrate":
        migrate(args.services)
    elif args.command == "worker":
        worker(args.service)
    elif args.command == "create-region":
        create_region(args.name)
    elif args.command == "rotate-keys":
        rotate_keys(args.grace_seconds)
    elif args.command == "dlq":
        dead_letters(args.service, args.action, args.limit)
    elif args.command == "embedded":
        from .embedded import run
        run(args.host, args.port)
    elif args.command == "distributed":
        from .distributed import run
        run()
    return 0
