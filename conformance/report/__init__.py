"""The one results model (collector, requirement results, verdict) and every output rendered from
it: results.json, index.html, the fingerprint.
"""
