"""The kernel: what every room uses and which uses no other room (settings, the numbered
catalogue of problems, private files, the store of files, languages)."""
