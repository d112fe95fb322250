"""What callers speak to: `openrosa` (phones), `pages` (people), `api` (scripts), `cli`
(administrators). A surface never imports another one; it asks the database for a reading or a
writing unit of work and never deals with the engine underneath."""
