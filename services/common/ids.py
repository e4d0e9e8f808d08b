import uuid


def new_id() -> str:
    """Public ids are opaque strings; random so that they reveal no counts."""
    return uuid.uuid4().hex
