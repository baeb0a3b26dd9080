"""A DAG file that fails to import, on purpose: the import errors page has something to show (and to be
read in both themes on a phone). The word "DAG" is here so the processor parses this file."""

raise RuntimeError("browser_broken fails to import on purpose")
