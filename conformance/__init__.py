"""points-conformance: contract-test and conformance suite for the loyalty Points API."""

__version__ = "0.1.0"
