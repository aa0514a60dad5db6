"""The conformance suite itself: pytest tests run against a target by `points-conformance run`."""
