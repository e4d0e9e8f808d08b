"""The shared kit: configuration, database, event bus, auth, errors, app factory."""
