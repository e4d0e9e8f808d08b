"""moderation's HTTP endpoints."""
from flask_smorest import Blueprint

blp = Blueprint("moderation", __name__, description="reports, violations, blocks, unblock requests, the moderation log")
