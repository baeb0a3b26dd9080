"""Metrics: a Prometheus endpoint on the web server and on each scheduler, and StatsD one setting away.

:mod:`collector` reads what the store says on each scrape; :mod:`instruments` holds what only a
scheduler process knows (its loop's duration, its heartbeats, its executor's slots) and mirrors it
to StatsD when ``[metrics] statsd_on`` is set.
"""
