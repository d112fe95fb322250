"""Referral cases (ODK Entities' entities of the list `cases`): what submissions and supervisors
do to them.

`lists` registers a list and its properties when a form that feeds it is loaded; `applying`
applies a submission version's entity actions in its transaction, by `sync.entity_updates`'
rules, holding an offline update until its predecessor arrives and releasing it when it does;
`overdue` forces held updates after their time; `resolving` lets a supervisor settle a conflict;
`rebuilding` makes every case again from the submissions and the case events. Cases are a
projection: the submissions (and `case_events`) are what they are made from.
"""
