"""Events messaging consumes."""
from services.common.bus import EventHandlers

handlers = EventHandlers()
