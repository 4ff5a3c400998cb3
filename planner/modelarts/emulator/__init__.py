"""A local ModelArts-compatible API for tests and rehearsals, seeded from an inventory snapshot.

Layers, each usable alone:
- `state.EmulatorState`: the pools, nodes, subnets and jobs, the batch-migrate rules and the job clock
  (plain Python, no HTTP);
- `api.EmulatorApi`: routing, authentication, project checks and fault injection over plain request and
  response values (no web framework);
- `transport.EmulatorTransport`: the API as an httpx transport, for fast in-process client tests;
- `app.create_app` / `server.EmulatorServer`: the same API behind FastAPI and uvicorn on a real socket.
"""
