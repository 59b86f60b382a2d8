"""OpenSearch backend: client, bootstrap and pure query builders."""
