"""werving's shared library: contracts, settings, logging, persistence and messaging.

Imported by every service, never run on its own, and it never imports a service.
"""
