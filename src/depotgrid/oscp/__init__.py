"""The OSCP 2.0 wire model shared by manage (Flexibility Provider) and sim (Capacity Provider).

Implements the wire side of /work/shared/oscp-2.0/PROTOCOL.md and nothing stateful:

- `schemas`: the official JSON Schemas (packaged copies) and `validate(title, payload)`.
- `enums`, `messages`: pydantic models named as the schema titles; `to_wire()`, `parse()`.
- `routes`: which role receives which message at `/oscp/{fp|cp|co}/2.0/<endpoint>`.
- `headers`: header names, `Authorization: Token|Bearer`, outbound headers.
- `client`: one-attempt HTTP delivery of a message (`OscpClient`, `AsyncOscpClient`).
- `units`: A, W, KW, WH, KWH to kW and kWh.

Lifecycles, persistence, retries and policy live in `depotgrid.manage.oscp` and
`depotgrid.sim.projections.oscp_cp`.
"""
