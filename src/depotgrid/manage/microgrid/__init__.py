"""The canonical microgrid of each depot (story COR-8) and its managed scopes.

See docs/microgrid.md for the model, the provisioning and sync rules and version semantics.
"""
