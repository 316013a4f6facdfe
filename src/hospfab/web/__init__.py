"""The read-only fleet page (``hospfab serve``).

- :mod:`hospfab.web.status`: the status aggregation (printers, lots in progress, last events), library core,
  no web framework: a scheduler or the alerts pass can call it too.
- :mod:`hospfab.web.server`: the Starlette application (Jinja2 template, ``/api/status``, static files).
"""
