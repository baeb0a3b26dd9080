"""Running task instances: one try of one task (``taskrunner``) and whole runs in-process (``inprocess``)."""
