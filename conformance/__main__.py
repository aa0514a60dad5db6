"""`python -m conformance`: the command line."""

from conformance.cli import entry

# Guarded: the self-test's fork server starts its runs from a process that may have been
# started as `python -m conformance`, and must not run the command line again on import.
if __name__ == "__main__":
    entry()
