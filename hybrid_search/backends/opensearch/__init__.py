"""OpenSearch backend: client, bootstrap and pure query builders.

``queries``/``stage``/``admin`` build request bodies (pure functions), ``client`` sends them with
retries and translated errors, ``bootstrap`` installs and evolves the cluster objects, ``backend``
implements the ``SearchBackend`` protocol, ``plan`` writes every request without a cluster, and
``spec`` validates bodies against the OpenSearch API specification.
"""
