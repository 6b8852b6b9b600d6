"""Agglomerative clustering against scipy.cluster.hierarchy."""

import chex
import numpy as np
import pytest
from scipy.cluster import hierarchy
from sklearn.datasets import load_digits
from sklearn.metrics import adjusted_rand_score

from jaxssl.classical import agglomerative, linkage_matrix


@pytest.mark.parametrize("linkage", ["ward", "average", "complete", "single"])
def test_tree_and_cut_match_scipy(linkage):
    # Continuous data: no tied distances, so the merge order is unique.
    x = np.random.default_rng(0).normal(size=(120, 5)).astype(np.float32)
    labels, tree = agglomerative(x, 6, linkage=linkage)
    ref = hierarchy.linkage(x.astype(np.float64), linkage)
    chex.assert_shape(tree, (119, 4))
    np.testing.assert_array_equal(np.asarray(tree)[:, [0, 1, 3]], ref[:, [0, 1, 3]])
    np.testing.assert_allclose(np.asarray(tree)[:, 2], ref[:, 2], rtol=1e-4)
    ref_labels = hierarchy.fcluster(ref, 6, criterion="maxclust")
    assert adjusted_rand_score(ref_labels, labels) == 1.0
    assert sorted(np.unique(labels)) == list(range(6))


def test_ward_on_digits_matches_scipy():
    x = load_digits().data[:500]
    labels, tree = agglomerative(x.astype(np.float32), 10)
    ref = hierarchy.linkage(x, "ward")
    np.testing.assert_allclose(np.asarray(tree)[:, 2], ref[:, 2], rtol=1e-4)
    ref_labels = hierarchy.fcluster(ref, 10, criterion="maxclust")
    assert adjusted_rand_score(ref_labels, labels) == 1.0


def test_linkage_matrix_and_no_recompile():
    x = np.random.default_rng(1).normal(size=(40, 3)).astype(np.float32)
    tree = linkage_matrix(x, linkage="average")
    before = agglomerative._cache_size()
    tree2 = linkage_matrix(x * 3.0, linkage="average")
    assert agglomerative._cache_size() == before
    np.testing.assert_allclose(tree2[:, 2], 3.0 * tree[:, 2], rtol=1e-5)
    # The whole tree is usable by scipy.
    hierarchy.is_valid_linkage(np.asarray(tree, np.float64), throw=True)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        agglomerative(np.zeros((5, 2)), 2, linkage="centroid")
    with pytest.raises(ValueError):
        agglomerative(np.zeros((5, 2)), 6)
