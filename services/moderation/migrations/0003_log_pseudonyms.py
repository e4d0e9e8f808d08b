"""Frozen as it was: the people the moderation log names, each by a
pseudonym with a key of their own, so that erasing a person drops that row
and never touches the log, which stays append-only. Everyone the log named
before gets a row whose pseudonym is the id the entries already carry:
no entry is rewritten."""
import secrets

import peewee

from services.common.clock import utcnow
from services.common.db import model_base


def up(db, kit):
    Frozen = model_base(db)

    class LogPerson(Frozen):
        user_id = peewee.CharField(max_length=32, primary_key=True)
        pseudonym = peewee.CharField(max_length=32, unique=True)
        key = peewee.CharField(max_length=64)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = 'logperson'

    db.create_tables([LogPerson])
    named = db.execute_sql("""
        SELECT actor_id FROM logentry WHERE actor_id IS NOT NULL
        UNION SELECT subject_id FROM logentry WHERE subject_id IS NOT NULL""").fetchall()
    for (user_id,) in named:
        LogPerson.insert(user_id=user_id, pseudonym=user_id, key=secrets.token_hex(32), created_at=utcnow()).execute()
