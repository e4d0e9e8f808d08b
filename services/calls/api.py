"""calls's HTTP endpoints."""
from flask_smorest import Blueprint

blp = Blueprint("calls", __name__, description="calls, lessons, meetings, broadcasts, signalling")
