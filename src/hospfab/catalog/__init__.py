"""The versioned, signed catalog of validated part references.

A catalog is a folder (``catalog/`` in the checkout, ``--catalog`` or ``HOSPFAB_CATALOG``) holding one folder
per reference (``VISOR-HEADBAND/part.yaml``) with one sub-folder per revision (``rev-1/revision.yaml``, the
STL, its mesh report, its preview, its G-code build files). A validated revision is locked by a sha256
manifest (which also copies the part's metadata) and Ed25519 signature records from keys the site's trust
store trusts (:mod:`hospfab.trust`, never the catalog folder); ``index.json`` is the signed, versioned list of
every signed revision and its status, and each site records the highest version it has seen (no rollback).
See ``catalog/README.md``.

Entry points: :class:`Catalog` (``list``, ``get``, ``resolve``, ``verify_revision``, ``verify``, lifecycle and
signing methods), :class:`Revision` (``status``, ``recipes``, ``signatures``, ``acceptance_criteria``),
:class:`Recipe`.
"""

from __future__ import annotations

from hospfab.catalog.store import Catalog, Part, Recipe, Revision

__all__ = ["Catalog", "Part", "Recipe", "Revision"]
