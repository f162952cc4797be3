"""The smallest stand-in for the Azure SDK repository's test helper package.

The azure-cosmos tests import two names from it; against a local server they
only need to know that the run is not live and never ask for an Entra ID
credential.
"""
