"""SQLite's one writer at a time, across worker processes, and the submission path's group
commit: the policy behind the database's writing units of work. Nothing outside the database
room imports this package."""
