"""The kit's own tables in every service's database (outbox, processed events,
remembered idempotent answers), migrated before the service's own steps and
recorded as `kit.<name>`."""
