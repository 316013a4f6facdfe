"""The versioned, signed catalog of validated part references.

A catalog is a folder (``catalog/`` in the checkout, ``--catalog`` or ``HOSPFAB_CATALOG``) holding one folder
per reference (``VISOR-HEADBAND/part.yaml``) with one sub-folder per revision (``rev-1/revision.yaml``, the
STL, its mesh report, its preview, its G-code build files). A validated revision is locked by a sha256
manifest and an Ed25519 signature from a trusted key (``keys/*.pub``). See ``catalog/README.md``.

Entry points: :class:`Catalog` (``list``, ``get``, ``resolve``, ``verify_revision``, lifecycle methods),
:class:`Revision`, :class:`Recipe`.
"""

from __future__ import annotations

from hospfab.catalog.store import Catalog, Part, Recipe, Revision

__all__ = ["Catalog", "Part", "Recipe", "Revision"]
