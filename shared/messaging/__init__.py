"""Broker set-up, the routes table, the outbox and its relay, the inbox, dead letters."""
