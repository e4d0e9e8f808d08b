"""moderation's tables, frozen as they were: the projections of the schools,
people, chats with their rules, members, moderators and messages; reports,
violations, blocks, unblock requests with objections, appeals, and the
moderation log, which the database keeps append-only."""
import peewee

from services.common.db import is_postgres, model_base

APPEND_ONLY = "the moderation log is append-only"


def up(db, kit):
    Frozen = model_base(db)

    class OrgMember(Frozen):
        org_id = peewee.CharField(max_length=32)
        user_id = peewee.CharField(max_length=32, index=True)
        roles = peewee.CharField(max_length=100)

        class Meta:
            table_name = 'orgmember'
            indexes = [(('org_id', 'user_id'), True)]

    class Person(Frozen):
        user_id = peewee.CharField(max_length=32, primary_key=True)
        display_name = peewee.CharField(max_length=200)

        class Meta:
            table_name = 'person'

    class Chat(Frozen):
        chat_id = peewee.CharField(max_length=32, primary_key=True)
        org_id = peewee.CharField(max_length=32, index=True)
        kind = peewee.CharField(max_length=16)
        purpose = peewee.CharField(max_length=16, null=True)
        title = peewee.CharField(max_length=200)
        rules = peewee.TextField()
        rules_version = peewee.IntegerField()
        archived = peewee.BooleanField()

        class Meta:
            table_name = 'chat'

    class ChatMember(Frozen):
        chat_id = peewee.CharField(max_length=32)
        user_id = peewee.CharField(max_length=32, index=True)

        class Meta:
            table_name = 'chatmember'
            indexes = [(('chat_id', 'user_id'), True)]

    class Moderator(Frozen):
        chat_id = peewee.CharField(max_length=32)
        user_id = peewee.CharField(max_length=32, index=True)

        class Meta:
            table_name = 'moderator'
            indexes = [(('chat_id', 'user_id'), True)]

    class Message(Frozen):
        message_id = peewee.CharField(max_length=32, primary_key=True)
        chat_id = peewee.CharField(max_length=32)
        org_id = peewee.CharField(max_length=32)
        author_id = peewee.CharField(max_length=32)
        text = peewee.TextField()
        created_at = peewee.DateTimeField(index=True)
        deleted_at = peewee.DateTimeField(null=True)
        held = peewee.BooleanField()

        class Meta:
            table_name = 'message'
            indexes = [(('chat_id', 'author_id', 'created_at'), False)]

    class Report(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        org_id = peewee.CharField(max_length=32, index=True)
        chat_id = peewee.CharField(max_length=32)
        message_id = peewee.CharField(max_length=32, index=True)
        author_id = peewee.CharField(max_length=32, index=True)
        reporter_id = peewee.CharField(max_length=32, null=True, index=True)
        source = peewee.CharField(max_length=16)
        rule = peewee.IntegerField(null=True)
        rule_text = peewee.TextField(null=True)
        reason = peewee.TextField()
        flags = peewee.TextField()
        excerpt = peewee.TextField()
        held = peewee.BooleanField()
        status = peewee.CharField(max_length=16)
        outcome = peewee.CharField(max_length=32, null=True)
        resolved_by = peewee.CharField(max_length=32, null=True)
        resolved_at = peewee.DateTimeField(null=True)
        note = peewee.TextField()
        violation_id = peewee.CharField(max_length=32, null=True)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = 'report'
            indexes = [(('chat_id', 'status'), False)]

    class Violation(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        org_id = peewee.CharField(max_length=32, index=True)
        chat_id = peewee.CharField(max_length=32)
        user_id = peewee.CharField(max_length=32, index=True)
        rule = peewee.IntegerField()
        rules_version = peewee.IntegerField()
        rule_text = peewee.TextField()
        message_id = peewee.CharField(max_length=32, null=True)
        note = peewee.TextField()
        recorded_by = peewee.CharField(max_length=32)
        created_at = peewee.DateTimeField()
        block_id = peewee.CharField(max_length=32, null=True)
        voided_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = 'violation'
            indexes = [(('chat_id', 'user_id'), False)]

    class Block(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        org_id = peewee.CharField(max_length=32, index=True)
        chat_id = peewee.CharField(max_length=32)
        user_id = peewee.CharField(max_length=32, index=True)
        blocked_by = peewee.CharField(max_length=32)
        note = peewee.TextField()
        created_at = peewee.DateTimeField()
        until = peewee.DateTimeField()
        status = peewee.CharField(max_length=16)
        ended_at = peewee.DateTimeField(null=True)
        end_reason = peewee.CharField(max_length=32, null=True)

        class Meta:
            table_name = 'block'
            indexes = [(('chat_id', 'user_id', 'status'), False), (('status', 'until'), False)]

    class UnblockRequest(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        org_id = peewee.CharField(max_length=32, index=True)
        chat_id = peewee.CharField(max_length=32, index=True)
        block_id = peewee.CharField(max_length=32, index=True)
        user_id = peewee.CharField(max_length=32)
        apology = peewee.TextField()
        created_at = peewee.DateTimeField()
        window_ends_at = peewee.DateTimeField()
        objections = peewee.IntegerField()
        status = peewee.CharField(max_length=16)
        outcome = peewee.CharField(max_length=32, null=True)
        closed_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = 'unblockrequest'

    class Objection(Frozen):
        request = peewee.ForeignKeyField(UnblockRequest)
        user_id = peewee.CharField(max_length=32)
        reason = peewee.TextField()
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = 'objection'
            indexes = [(('request', 'user_id'), True)]

    class Appeal(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        org_id = peewee.CharField(max_length=32, index=True)
        chat_id = peewee.CharField(max_length=32)
        block_id = peewee.CharField(max_length=32, index=True)
        user_id = peewee.CharField(max_length=32)
        text = peewee.TextField()
        created_at = peewee.DateTimeField()
        status = peewee.CharField(max_length=16)
        decided_by = peewee.CharField(max_length=32, null=True)
        decided_at = peewee.DateTimeField(null=True)
        note = peewee.TextField()

        class Meta:
            table_name = 'appeal'

    class LogEntry(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        org_id = peewee.CharField(max_length=32)
        chat_id = peewee.CharField(max_length=32, null=True)
        action = peewee.CharField(max_length=32)
        actor_id = peewee.CharField(max_length=32, null=True)
        subject_id = peewee.CharField(max_length=32, null=True)
        rules = peewee.TextField()
        note = peewee.TextField()
        refs = peewee.TextField()
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = 'logentry'
            indexes = [(('org_id', 'created_at'), False), (('chat_id', 'created_at'), False)]

    db.create_tables([OrgMember, Person, Chat, ChatMember, Moderator, Message, Report, Violation, Block,
                      UnblockRequest, Objection, Appeal, LogEntry])

    # The log is append-only below the code too: no statement changes or removes an entry.
    if is_postgres(db):
        db.execute_sql(f"""
            CREATE FUNCTION moderation_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$""")
        db.execute_sql("""
            CREATE TRIGGER logentry_append_only BEFORE UPDATE OR DELETE ON logentry
            FOR EACH ROW EXECUTE FUNCTION moderation_log_append_only()""")
        db.execute_sql("""
            CREATE TRIGGER logentry_no_truncate BEFORE TRUNCATE ON logentry
            FOR EACH STATEMENT EXECUTE FUNCTION moderation_log_append_only()""")
    else:
        for event in ("UPDATE", "DELETE"):
            db.execute_sql(f"""
                CREATE TRIGGER logentry_append_only_{event.lower()} BEFORE {event} ON logentry
                BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""")
