"""The receiver, the ``web`` process: validates, authenticates, deduplicates and
enqueues; it never calls a platform. The app factory is :func:`webhook.app.create_app`.

Importing this package imports nothing else: gunicorn's master loads its settings from
``webhook.gunicorn_conf`` before its gevent workers patch the standard library, and
what the master imports stays unpatched (webhook/server.py).
"""
