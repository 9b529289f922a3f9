"""The control and inspection API (design §7), for operators and automated tests."""
