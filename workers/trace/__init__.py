"""Where each event is: what the workers did with it, kept for ``TRACE_RETENTION_S``."""
