"""The signed index of another catalog, signed by a key this site trusts, cannot stand in for the index of
the catalog a folder held: its statuses (not retired) would roll the retirement back."""

from __future__ import annotations

import shutil

import pytest

from hospfab.catalog import index as ix
from hospfab.catalog.signing import fingerprint, load_private_key
from hospfab.errors import IntegrityError

from test_catalog_lifecycle import open_catalog, validated


def test_index_of_another_catalog_replayed_after_a_retirement(tmp_path, cli):
    cat, key, *_ = validated(tmp_path)
    catalog = tmp_path / "catalog"
    # the same validator keeps a second catalog (its own catalog_id) where TEST-BOX@1 is still validated
    other = tmp_path / "other"
    shutil.copytree(catalog, other)
    (other / "index.json").unlink()
    private = load_private_key(key)
    listed = ix.load(catalog).revisions
    ix.write(other, None, dict(listed), private, fingerprint(private.public_key()))
    assert ix.load(other).catalog_id != ix.load(catalog).catalog_id
    # this site retires TEST-BOX@1 and sees index version 2 of its catalog
    cat.retire("TEST-BOX@1", "cracks at the hinge", key_file=key)
    assert open_catalog(tmp_path).verify()[0]["ok"]
    # the attacker removes the retirement and puts the other catalog's (validly signed) index in its place
    (catalog / "TEST-BOX" / "rev-1" / "retirement.yaml").unlink()
    shutil.copyfile(other / "index.json", catalog / "index.json")
    again = open_catalog(tmp_path)
    with pytest.raises(IntegrityError, match="the signed index of another catalog"):
        again.verify_revision(again.resolve("TEST-BOX@1"))
    outcomes = again.verify()
    assert [o["code"] for o in outcomes] == ["rolled_back"] and outcomes[0]["exit_code"] == 4


def test_the_same_catalog_moved_to_another_folder_still_verifies(tmp_path):
    cat, key, *_ = validated(tmp_path)
    assert cat.verify()[0]["ok"]
    shutil.move(tmp_path / "catalog", tmp_path / "moved")
    assert open_catalog(tmp_path, tmp_path / "moved").verify()[0]["ok"]
