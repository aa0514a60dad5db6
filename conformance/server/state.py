"""What every route needs: the ledger, the seed's configuration, the clock, the fault switches
and the legitimate variants."""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.server.auth import Authenticator
from conformance.server.clock import Clock
from conformance.server.ledger import Ledger
from conformance.server.seed import Program, Seed


@dataclass
class ServerState:
    ledger: Ledger
    seed: Seed
    faults: frozenset[str]
    auth: Authenticator
    clock: Clock = field(default_factory=Clock)
    # Legitimate variants (variants.py): choices the documents allow, not bugs.
    variants: frozenset[str] = frozenset()
    # Requests that reached the last-resort 500 handler; the fuzz tests require it stays 0.
    internal_errors: int = 0

    @property
    def program(self) -> Program:
        return self.seed.program
