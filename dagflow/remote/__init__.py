"""What machines share when dagflow runs on several: the Celery app and its message, the workers'
status, and the worker log server with its signed requests.

Used by the Celery executor and workers, by the CLI and by the web UI (which may not import the
executors), so it lives apart from all of them.
"""
