"""Every SQL statement of the server, as plain functions that take the session first."""
