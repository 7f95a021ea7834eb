"""document_worker: renders contracts, letters and anonymized profiles as PDF, stores
them, and hands the ones that are emailed to mail_worker."""
