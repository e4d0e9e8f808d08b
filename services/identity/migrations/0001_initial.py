"""identity's first tables, frozen as they were: users, sign-in codes, sessions and
refresh tokens, signing keys, and what the console providers "sent"."""
import peewee

from services.common.db import model_base


def up(db, kit):
    Frozen = model_base(db)

    class User(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        phone = peewee.CharField(max_length=20, null=True, unique=True)
        email = peewee.CharField(max_length=254, null=True, unique=True)
        display_name = peewee.CharField(max_length=100)
        created_at = peewee.DateTimeField()
        updated_at = peewee.DateTimeField()

        class Meta:
            table_name = 'user'

    class LoginCode(Frozen):
        channel = peewee.CharField(max_length=8)
        destination = peewee.CharField(max_length=254, index=True)
        code_hash = peewee.CharField(max_length=64)
        ip = peewee.CharField(max_length=64, null=True, index=True)
        created_at = peewee.DateTimeField(index=True)
        expires_at = peewee.DateTimeField()
        failed_attempts = peewee.IntegerField()
        used_at = peewee.DateTimeField(null=True)
        dead = peewee.BooleanField()

        class Meta:
            table_name = 'logincode'

    class Session(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        user = peewee.ForeignKeyField(User, on_delete='CASCADE')
        created_at = peewee.DateTimeField()
        refreshed_at = peewee.DateTimeField()
        revoked_at = peewee.DateTimeField(null=True)
        revoke_reason = peewee.CharField(max_length=64, null=True)
        user_agent = peewee.CharField(max_length=256)

        class Meta:
            table_name = 'session'

    class RefreshToken(Frozen):
        token_hash = peewee.CharField(max_length=64, primary_key=True)
        session = peewee.ForeignKeyField(Session, on_delete='CASCADE')
        created_at = peewee.DateTimeField()
        rotated_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = 'refreshtoken'

    class SigningKey(Frozen):
        kid = peewee.CharField(max_length=64, primary_key=True)
        private_pem = peewee.TextField()
        public_jwk = peewee.TextField()
        created_at = peewee.DateTimeField()
        retire_after = peewee.DateTimeField(null=True)

        class Meta:
            table_name = 'signingkey'

    class DevMessage(Frozen):
        channel = peewee.CharField(max_length=8)
        to = peewee.CharField(max_length=254, index=True)
        code = peewee.CharField(max_length=16)
        sent_at = peewee.DateTimeField()

        class Meta:
            table_name = 'devmessage'

    db.create_tables([User, LoginCode, Session, RefreshToken, SigningKey, DevMessage])
