"""The API as documented: OpenAPI sources and their strict variant, the XSD, the
requirement/code/conflict catalogs, and the checks that keep them honest against the vendor
documents.
"""
