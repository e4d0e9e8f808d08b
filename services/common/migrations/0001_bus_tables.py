"""The outbox, the processed events and the remembered answers to
Idempotency-Keys, frozen as they were. Databases made before the kit had
migrations of its own already hold them (each service's first step or the
runner made them), hence IF NOT EXISTS."""
import peewee

from services.common.db import model_base


def up(db, kit):
    Frozen = model_base(db)

    class Outbox(Frozen):
        event_id = peewee.CharField(max_length=64, unique=True)
        routing_key = peewee.CharField(max_length=128)
        body = peewee.TextField()
        created_at = peewee.DateTimeField()
        attempts = peewee.IntegerField()
        next_attempt_at = peewee.DateTimeField(index=True)
        last_error = peewee.TextField(null=True)

        class Meta:
            table_name = "outbox"

    class ProcessedEvent(Frozen):
        event_id = peewee.CharField(max_length=64, primary_key=True)
        event_type = peewee.CharField(max_length=128)
        handled_at = peewee.DateTimeField()

        class Meta:
            table_name = "processed_events"

    class IdempotentRequest(Frozen):
        user_id = peewee.CharField(max_length=32)
        key = peewee.CharField(max_length=36)
        endpoint = peewee.CharField(max_length=300)
        status = peewee.IntegerField()
        body = peewee.TextField()
        created_at = peewee.DateTimeField(index=True)

        class Meta:
            table_name = "idempotent_requests"
            indexes = ((("user_id", "key"), True),)

    db.create_tables([Outbox, ProcessedEvent, IdempotentRequest], safe=True)
