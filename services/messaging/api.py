"""messaging's HTTP endpoints."""
from flask_smorest import Blueprint

blp = Blueprint("messaging", __name__, description="chats, membership by consent, messages, files, polls")
