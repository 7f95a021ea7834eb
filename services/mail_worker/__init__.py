"""mail_worker: sends the emails that recruiter actions queue.

This release ships the local SMTP sink used by the embedded mode; the actors
that render and send emails arrive with the mail issue. The module
``services.mail_worker.actors`` already exists so that the worker process and
its queue are in place for deployments.
"""
