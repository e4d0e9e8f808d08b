"""The event catalogue (docs/events.md) read as data: routing key -> required
and optional `data` fields, and the envelope check the contract tests apply."""
from __future__ import annotations

import re
import uuid
from datetime import datetime
from pathlib import Path

CATALOGUE = Path(__file__).resolve().parents[1] / "docs" / "events.md"
ENVELOPE_KEYS = {"id", "type", "version", "occurred_at", "producer", "org_id", "correlation_id", "data"}


def load(path: Path = CATALOGUE) -> dict[str, tuple[set[str], set[str]]]:
    events: dict[str, tuple[set[str], set[str]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not re.match(r"^[a-z_]+\.[a-z_.]+", cells[0]):
            continue
        keys = _expand(cells[0])
        required, optional = set(), set()
        for field in re.sub(r"\([^)]*\)", "", cells[1]).split(","):
            name = field.strip().split(" ")[0]
            if not name:
                continue
            (optional if name.endswith("?") else required).add(name.rstrip("?"))
        for key in keys:
            events[key] = (required, optional)
    return events


def _expand(cell: str) -> list[str]:
    """`orgstructure.unit.created / updated / archived` -> three routing keys."""
    parts = [part.strip() for part in cell.split("/")]
    first = parts[0]
    prefix = first.rsplit(".", 1)[0]
    return [first] + [f"{prefix}.{part}" for part in parts[1:]]


def check_envelope(envelope: dict, catalogue: dict, routing_key: str | None = None) -> list[str]:
    """Every way this envelope breaks the contract (an empty list when it keeps it)."""
    problems = []
    missing = ENVELOPE_KEYS - set(envelope)
    if missing:
        problems.append(f"envelope lacks {sorted(missing)}")
    event_type = envelope.get("type")
    if routing_key is not None and event_type != routing_key:
        problems.append(f"type {event_type!r} is not the routing key {routing_key!r}")
    if event_type not in catalogue:
        return problems + [f"{event_type!r} is not in the catalogue"]
    try:
        uuid.UUID(str(envelope.get("id")))
    except ValueError:
        problems.append("id is not a UUID")
    if envelope.get("version") != 1:
        problems.append("version is not 1")
    occurred = str(envelope.get("occurred_at", ""))
    try:
        if not occurred.endswith("Z"):
            raise ValueError
        datetime.fromisoformat(occurred[:-1])
    except ValueError:
        problems.append(f"occurred_at {occurred!r} is not ISO-8601 UTC")
    if envelope.get("producer") != str(event_type).split(".")[0]:
        problems.append("producer is not the service named by the routing key")
    data = envelope.get("data")
    if not isinstance(data, dict):
        return problems + ["data is not an object"]
    required, _optional = catalogue[event_type]
    absent = required - set(data)
    if absent:
        problems.append(f"data lacks {sorted(absent)}")
    return problems
