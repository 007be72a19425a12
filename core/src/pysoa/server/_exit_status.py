"""Exit statuses of a service process that mean something to whoever (re)starts it."""

from __future__ import annotations

from typing import Final

__all__ = ["EXIT_CONFIGURATION_ERROR"]

# sysexits.h's EX_CONFIG. A worker that exits with it found its configuration unusable at start-up
# (wrong Redis password, missing ACL rights, bad TLS set-up, ...): starting it again cannot help, so
# the supervisor does not respawn it, and process managers can be told not to either (systemd:
# ``RestartPreventExitStatus=78``).
EXIT_CONFIGURATION_ERROR: Final = 78
