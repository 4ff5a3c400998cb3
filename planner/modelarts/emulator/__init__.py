"""A local ModelArts-compatible API for tests and rehearsals, seeded from an inventory snapshot.

Layers, each usable alone:
- `state.EmulatorState`: the project behind one lock and one clock, composed of `pools.PoolStore` (pools,
  nodes, networks and their read answers, full or documented shape), `migrate` (batch-migrate rules and
  jobs), `workloads.WorkloadStore` (workloads, drain, lock/unlock) and `faults.Faults` (plain Python, no HTTP);
- `api.EmulatorApi`: authentication with the gateway's lockout, project checks, fault injection and the
  request log over plain request and response values, routed by `routes` (no web framework);
- `transport.EmulatorTransport`: the API as an httpx transport, for fast in-process client tests;
- `app.create_app` / `server.EmulatorServer`: the same API behind FastAPI and uvicorn on a real socket.
"""
