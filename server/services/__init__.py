"""The domain: receiving submissions, normalising them, reviewing, deleting, accounts, exports.
Services import no web framework: the surfaces hand them the session, the store, the actor."""
