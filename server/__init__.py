"""The Muntada server, in five rooms; each may import only the rooms below it.

- `server.app`: the app factory and what is app-wide (cookies and CSRF, the request guard, turning
  any exception into a problem for the surface that was called, the WSGI server).
- `server.surfaces`: what callers speak to: `openrosa` (ODK Collect), `pages` (people in a
  browser), `api` (scripts), `cli` (administrators). Thin: they read a request, call services and
  the database's queries, and render; each renders its own errors.
- `server.services`: the domain (receiving submissions, reviewing, accounts, exports...). No Flask:
  what they need comes in as arguments.
- `server.database`: the models, the migrations, every SQL statement (`queries`, by table family)
  and units of work; the SQLite writer engine stays inside it (`database.sqlite`).
- `server.kernel`: settings, the catalogue of problems, private files, stored files, languages.

`tests/test_architecture.py` holds these walls.
"""
