"""`python -m services <command>`: see services/cli.py."""
import sys

if len(sys.argv) > 1 and sys.argv[1] == "embedded":
    # The embedded platform serves WebSockets and HTTP from one process:
    # patch before anything opens a socket.
    from gevent import monkey

    monkey.patch_all()

from services.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
