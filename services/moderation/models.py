"""moderation's own tables."""
import peewee

db = peewee.DatabaseProxy()

TABLES: list[type[peewee.Model]] = []
