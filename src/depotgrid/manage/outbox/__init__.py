"""The one outbox: outbound publications persisted in the caller's transaction, then delivered.

- `service`: `enqueue` (validates the OSCP body, fixes the X-Request-ID) and the read side.
- `model`: the entry, its states and transitions, attempts and outcomes (plain Python).
- `retry`: the retry policy, exponential backoff with full jitter (pure).
- `destinations`: where an entry goes, resolved at delivery time (the `DestinationResolver` port).
- `dispatcher`: claims due entries, delivers them over HTTP, records every attempt and outcome.
- `handlers`: reactions to outcomes by message type, run in the transaction that records them.

See docs/outbox.md.
"""
