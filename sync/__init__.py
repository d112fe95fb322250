"""The offline-first core, pure Python: what phones send, what an arrival means, and the rows an
instance becomes. Depends on `forms/` only; nothing here imports Flask or SQLAlchemy."""
