"""The scheduler daemon: turns stored state into decisions and hands ready task instances to an executor."""
