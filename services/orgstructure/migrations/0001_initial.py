"""orgstructure's tables, frozen as they were: regions and applications,
organisations, units, members and their roles and placements, parent links,
invites and join requests, roster imports, weekly statistics."""
import peewee

from services.common.db import model_base


def up(db, kit):
    Frozen = model_base(db)

    class Region(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        name = peewee.CharField(max_length=200, unique=True)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = 'region'

    class KnownUser(Frozen):
        user_id = peewee.CharField(max_length=32, primary_key=True)
        phone = peewee.CharField(max_length=20, null=True, index=True)
        display_name = peewee.CharField(max_length=100)

        class Meta:
            table_name = 'knownuser'

    class Organisation(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        region = peewee.ForeignKeyField(Region)
        name = peewee.CharField(max_length=300)
        kind = peewee.CharField(max_length=16)
        address = peewee.CharField(max_length=300)
        journal_url = peewee.CharField(max_length=500)
        diary_url = peewee.CharField(max_length=500)
        created_at = peewee.DateTimeField()
        updated_at = peewee.DateTimeField()

        class Meta:
            table_name = 'organisation'

    class Application(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        applicant_id = peewee.CharField(max_length=32, index=True)
        region = peewee.ForeignKeyField(Region)
        org_name = peewee.CharField(max_length=300)
        org_kind = peewee.CharField(max_length=16)
        admin_full_name = peewee.CharField(max_length=200)
        admin_phone = peewee.CharField(max_length=20)
        document_file_id = peewee.CharField(max_length=64, null=True)
        status = peewee.CharField(max_length=16, index=True)
        reason = peewee.TextField(null=True)
        organisation = peewee.ForeignKeyField(Organisation, null=True)
        decided_by = peewee.CharField(max_length=32, null=True)
        decided_at = peewee.DateTimeField(null=True)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = 'application'

    class PendingAdmin(Frozen):
        organisation = peewee.ForeignKeyField(Organisation)
        phone = peewee.CharField(max_length=20, index=True)
        full_name = peewee.CharField(max_length=200)
        granted_to = peewee.CharField(max_length=32, null=True)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = 'pendingadmin'

    class Unit(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        organisation = peewee.ForeignKeyField(Organisation)
        name = peewee.CharField(max_length=100)
        kind = peewee.CharField(max_length=16)
        grade = peewee.IntegerField(null=True)
        academic_year = peewee.CharField(max_length=9, null=True)
        head_user_id = peewee.CharField(max_length=32, null=True)
        archived_at = peewee.DateTimeField(null=True)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = 'unit'

    class Member(Frozen):
        organisation = peewee.ForeignKeyField(Organisation)
        user_id = peewee.CharField(max_length=32, index=True)
        display_name = peewee.CharField(max_length=200)
        teacher_verified = peewee.BooleanField()
        joined_at = peewee.DateTimeField()
        left_at = peewee.DateTimeField(null=True)
        left_reason = peewee.CharField(max_length=16, null=True)

        class Meta:
            table_name = 'member'
            indexes = [(('organisation', 'user_id'), True)]

    class MemberRole(Frozen):
        member = peewee.ForeignKeyField(Member, on_delete='CASCADE')
        role = peewee.CharField(max_length=16)

        class Meta:
            table_name = 'memberrole'
            indexes = [(('member', 'role'), True)]

    class Placement(Frozen):
        organisation = peewee.ForeignKeyField(Organisation)
        user_id = peewee.CharField(max_length=32, index=True)
        unit = peewee.ForeignKeyField(Unit)
        role = peewee.CharField(max_length=16)
        started_at = peewee.DateTimeField()
        ended_at = peewee.DateTimeField(null=True)
        end_reason = peewee.CharField(max_length=16, null=True)

        class Meta:
            table_name = 'placement'

    class ParentLink(Frozen):
        organisation = peewee.ForeignKeyField(Organisation)
        parent_id = peewee.CharField(max_length=32, index=True)
        child_id = peewee.CharField(max_length=32, index=True)
        created_at = peewee.DateTimeField()
        ended_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = 'parentlink'

    class Invite(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        organisation = peewee.ForeignKeyField(Organisation)
        role = peewee.CharField(max_length=16)
        unit = peewee.ForeignKeyField(Unit, null=True)
        child_user_id = peewee.CharField(max_length=32, null=True)
        child_invite = peewee.ForeignKeyField('self', null=True)
        full_name = peewee.CharField(max_length=200)
        token_hash = peewee.CharField(max_length=64, unique=True)
        expires_at = peewee.DateTimeField()
        max_uses = peewee.IntegerField(null=True)
        uses = peewee.IntegerField()
        requires_approval = peewee.BooleanField()
        revoked_at = peewee.DateTimeField(null=True)
        created_by = peewee.CharField(max_length=32)
        created_at = peewee.DateTimeField()
        accepted_by = peewee.CharField(max_length=32, null=True)

        class Meta:
            table_name = 'invite'

    class JoinRequest(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        organisation = peewee.ForeignKeyField(Organisation)
        invite = peewee.ForeignKeyField(Invite)
        user_id = peewee.CharField(max_length=32)
        status = peewee.CharField(max_length=16, index=True)
        decided_by = peewee.CharField(max_length=32, null=True)
        decided_at = peewee.DateTimeField(null=True)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = 'joinrequest'

    class RosterImport(Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        organisation = peewee.ForeignKeyField(Organisation)
        created_by = peewee.CharField(max_length=32)
        content = peewee.TextField()
        status = peewee.CharField(max_length=16, index=True)
        total_rows = peewee.IntegerField()
        processed_rows = peewee.IntegerField()
        errors = peewee.TextField()
        result = peewee.TextField()
        created_at = peewee.DateTimeField()
        finished_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = 'rosterimport'

    class WeeklyStat(Frozen):
        organisation_id = peewee.CharField(max_length=32)
        unit_id = peewee.CharField(max_length=32)
        week = peewee.DateField()
        metric = peewee.CharField(max_length=32)
        value = peewee.BigIntegerField()

        class Meta:
            table_name = 'weeklystat'
            indexes = [(('organisation_id', 'unit_id', 'week', 'metric'), True)]

    db.create_tables([Region, KnownUser, Organisation, Application, PendingAdmin, Unit, Member, MemberRole, Placement,
                      ParentLink, Invite, JoinRequest, RosterImport, WeeklyStat])
