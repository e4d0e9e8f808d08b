"""orgstructure's HTTP endpoints."""
from flask_smorest import Blueprint

blp = Blueprint("orgstructure", __name__, description="regions, registration, organisations, units, memberships, invites, movement")
