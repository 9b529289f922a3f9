"""The OSCP 2.0 Flexibility Provider side of manage: configurations (connections) and, later,
their lifecycle. See docs/oscp.md."""
