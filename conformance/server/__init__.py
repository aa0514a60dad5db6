"""The embedded reference server: the Points API as documented, on SQLite, for the suite.

It imports nothing from the suite except ``conformance.paths`` (to find its seed data).
"""

from conformance.server.launch import RunningServer, ServerConfigError, run_in_thread, serve
from conformance.server.rules import FAULTS
from conformance.server.variants import VARIANTS

__all__ = ["FAULTS", "VARIANTS", "RunningServer", "ServerConfigError", "run_in_thread", "serve"]
