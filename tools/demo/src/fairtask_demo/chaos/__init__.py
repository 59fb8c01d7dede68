"""`make chaos`: the demo load on the real local stack while seeded faults are injected, then
an audit of what the events and the ledger say happened."""
