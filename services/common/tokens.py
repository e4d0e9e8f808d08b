"""Bearer secrets handed to users (invite links, refresh tokens): random
enough to be unguessable, and stored only as a hash so that a copy of the
database opens nothing."""
import hashlib
import secrets


def new_token(random_bytes: int = 24) -> str:
    return secrets.token_urlsafe(random_bytes)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
