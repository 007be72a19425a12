"""The transport contract suite, for transport authors: prove a transport behaves as soa-core's do.

Subclass :class:`TransportContract` and provide the ``connect`` fixture (see
:mod:`pysoa.test.contract.suite`); :class:`ServerProcesses` runs the service in worker processes
for a transport whose server cannot live in the test's process. soa-core runs this suite for the
local, Redis and ZeroMQ transports. Needs pytest.
"""

from __future__ import annotations

from pysoa.test.contract.processes import ServerProcesses
from pysoa.test.contract.service import ContractServer
from pysoa.test.contract.suite import Connect, TransportContract

__all__ = ["Connect", "ContractServer", "ServerProcesses", "TransportContract"]
