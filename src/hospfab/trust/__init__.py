"""The site's trust store: which validator keys this site trusts, for whom, with which roles, until when.

Trust lives in the hospfab configuration (``Settings.trust_store_path``: ``HOSPFAB_TRUST_STORE`` or
``<config>/trust/trust.yaml``), never in the catalog folder: whoever can write to the catalog cannot make
their own key trusted. Each entry binds a key fingerprint and its public key to a person's name and roles,
with an optional expiry and a revocation. The file also holds the site's approval policy (how many distinct
signers, which roles). Entry points: :class:`TrustStore` (``load``, ``trust``, ``revoke``, ``signer``,
``save``), :class:`Policy`.
"""

from __future__ import annotations

from hospfab.trust.store import KeyEntry, Policy, Signer, TrustStore, UntrustedKey

__all__ = ["KeyEntry", "Policy", "Signer", "TrustStore", "UntrustedKey"]
