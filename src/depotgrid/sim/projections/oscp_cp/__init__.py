"""The OSCP 2.0 Capacity Provider projection (design §3-§10): sessions, the message ledger,
the protocol API under /oscp/cp/2.0 and outbound delivery to the Flexibility Provider."""
