"""Operations commands:

  python -m services migrate <service>|all     apply pending migrations
  python -m services worker <service>          outbox relay + event consumer, no HTTP
  python -m services create-region NAME        orgstructure: a region the operator serves
  python -m services rotate-keys [--emergency] identity: a new token signing key (--emergency:
                                               the old ones stop working everywhere within seconds)
  python -m services dlq <service> list|replay read or replay a dead-letter queue (pika)
  python -m services embedded                  the whole platform in one process (make run)
  python -m services seed-demo                  orgstructure, SFERUM_DEV=1 only: the demo region and school
"""
from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
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


def rotate_keys(grace_seconds: int | None, emergency: bool) -> None:
    from .common.bus import is_memory
    from .common.outbox import BrokerUnavailable
    from .identity import signing_keys
    from .identity.config import IdentityConfig

    runtime = build("identity").extensions["sferum"]
    settings = runtime.settings
    if emergency:
        with runtime.connection():
            key, retired = signing_keys.retire_at_once(runtime.service, settings.secret_key)
        print(f"new signing key {key.kid}; retired at once: {', '.join(retired) or 'none'}")
        # identity's running relays publish the retirement too; this only spares
        # the wait when the broker is reachable from here (never the in-memory one).
        if not is_memory(settings.amqp_url):
            try:
                runtime.relay.relay_once()
                print("published: every process stops accepting their tokens within seconds")
            except BrokerUnavailable as error:
                print(f"not published from here ({error}); identity publishes it once the broker answers")
        return
    grace = grace_seconds if grace_seconds is not None else IdentityConfig.from_settings(settings).access_ttl + 60
    with runtime.connection():
        key = signing_keys.rotate(settings.secret_key, grace)
    print(f"new signing key {key.kid}; older keys stay published for {grace}s")


def create_region(name: str) -> None:
    from .orgstructure import registration

    runtime = build("orgstructure").extensions["sferum"]
    with runtime.connection():
        region = registration.create_region(name)
    print(f"region {region.id}: {region.name}")


def seed_demo() -> None:
    """Prints the demo's invites as JSON (null when it was seeded before)."""
    from .orgstructure import demo

    runtime = build("orgstructure").extensions["sferum"]
    if not runtime.settings.dev:
        raise SystemExit("seed-demo runs only with SFERUM_DEV=1: production holds no demo school")
    with runtime.connection():
        seeded = demo.seed(runtime.service)
    print(json.dumps(seeded, ensure_ascii=False))


def dead_letters(name: str, action: str, limit: int) -> int:
    """Reads `<service>.dlq` with pika (an independent client): `list` shows the
    messages and puts them back; `replay` hands each back to this service alone
    (through `sferum.retry`, which routes by service name: the other services
    that once received the event do not get it again) and removes it from the
    dead-letter queue. A service that consumes no events has none."""
    import pika
    from pika.exceptions import ChannelClosedByBroker

    from .common.bus import broker_urls

    if not importlib.import_module(f"services.{name}.handlers").handlers.by_type:
        print(f"{name}: no dead-letter queue (this service consumes no events)")
        return 0
    settings = Settings.from_env(name)
    connection = pika.BlockingConnection([pika.URLParameters(url) for url in broker_urls(settings.amqp_url)])
    queue = f"{name}.dlq"
    seen = []
    try:
        try:
            connection.channel().queue_declare(queue, passive=True)
        except ChannelClosedByBroker as error:
            if error.reply_code != 404:
                raise
            # The service declares it whenever its consumer starts.
            print(f"{name}: no queue {queue} on this broker: {name} has never consumed here "
                  f"(is AMQP_URL the one the service uses?)", file=sys.stderr)
            return 1
        channel = connection.channel()
        channel.confirm_delivery()
        for _ in range(limit):
            method, properties, body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                break
            headers = dict(properties.headers or {})
            seen.append(method.delivery_tag)
            envelope = json.loads(body)
            print(json.dumps({"id": envelope.get("id"), "type": envelope.get("type"),
                              "error": headers.get("x-error") or _dead_lettered_by_the_broker(headers),
                              "attempts": headers.get("x-attempts"),
                              "failed_at": headers.get("x-failed-at")}, ensure_ascii=False))
            if action == "replay":
                for header in ("x-attempts", "x-delivery-count"):
                    headers.pop(header, None)
                channel.basic_publish("sferum.retry", name, body, pika.BasicProperties(
                    content_type="application/json", delivery_mode=2,
                    message_id=properties.message_id, headers=headers), mandatory=True)
                channel.basic_ack(method.delivery_tag)
        if action == "list" and seen:
            channel.basic_nack(seen[-1], multiple=True, requeue=True)
    finally:
        if connection.is_open:
            connection.close()
    print(f"{len(seen)} message(s) {'replayed' if action == 'replay' else 'listed'} from {queue}")
    return 0


def _dead_lettered_by_the_broker(headers: dict) -> str | None:
    """Why the broker itself dead-lettered a message (its queue's delivery
    limit: the consumer died holding it again and again)."""
    deaths = headers.get("x-death") or []
    if not deaths:
        return None
    return f"{deaths[0].get('reason')} in {deaths[0].get('queue')}"


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
    group = p.add_mutually_exclusive_group()
    group.add_argument("--grace-seconds", type=int)
    group.add_argument("--emergency", action="store_true",
                       help="retire the old keys now: their tokens are refused everywhere within seconds")
    p = commands.add_parser("dlq")
    p.add_argument("service", choices=SERVICES)
    p.add_argument("action", choices=["list", "replay"])
    p.add_argument("--limit", type=int, default=1000)
    p = commands.add_parser("embedded")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--internal-port", type=int, default=9080, help="readiness details and metrics")
    commands.add_parser("seed-demo")
    args = parser.parse_args(argv)
    configure_logging()
    if args.command == "migrate":
        migrate(args.services)
    elif args.command == "worker":
        worker(args.service)
    elif args.command == "create-region":
        create_region(args.name)
    elif args.command == "rotate-keys":
        rotate_keys(args.grace_seconds, args.emergency)
    elif args.command == "dlq":
        return dead_letters(args.service, args.action, args.limit)
    elif args.command == "embedded":
        from .embedded import run
        run(args.host, args.port, args.internal_port)
    elif args.command == "seed-demo":
        seed_demo()
    return 0
