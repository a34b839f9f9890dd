"""The hub: one watcher for a team (`wawp-tui serve`), and the screens that attach to it.

Server side (on top of one core Monitor, run by commands/serve.py): `users` (bearer tokens
and roles), `limits` (who may ask how often), `stream` (the numbered events, their ring and
the fan-out to Server-Sent Events), `webhooks` (signed doorbells that make the hub poll),
`jobs` (periodic work on the hub's monitor, e.g. keeping [[schedules]]), `api` (the HTTP
API, a Starlette app). Attach side: `link` (the HTTP client of a hub) and `attach` (a
FleetMonitor that mirrors a hub's fleet: the same screen, fed by the hub).

No Textual here (the import-linter contracts in pyproject.toml).
"""
