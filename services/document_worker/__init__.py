"""document_worker: renders contracts, letters and profiles as PDF.

The actors arrive with the document issue; ``services.document_worker.actors``
exists so that the worker process and its queue are in place for deployments.
"""
