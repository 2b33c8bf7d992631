"""The classifier's NumPy training parts against figures scikit-learn 1.9.1 gave on the same inputs.

The expected numbers were produced once with TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
LogisticRegression(C=1.0) and StratifiedKFold(3, shuffle=True, random_state=0); scikit-learn is
no longer a dependency, so they are written out here (weights agree within the solvers' 1e-4 gradient
tolerance, about 1e-3 on these coefficients).
"""

from __future__ import annotations

import numpy as np

from graph.logistic import fit_logistic, stratified_folds
from graph.sparse_rows import SparseRows
from graph.tfidf import WordTfidf

TEXTS = [
    "Reset my password",
    "I can't reset my PASSWORD again",
    "Refund my invoice, please",
    "invoice invoice refund",
]
VOCABULARY = {
    "again": 0, "can": 1, "can reset": 2, "invoice": 3, "invoice invoice": 4, "invoice please": 5,
    "invoice refund": 6, "my": 7, "my invoice": 8, "my password": 9, "password": 10,
    "password again": 11, "please": 12, "refund": 13, "refund my": 14, "reset": 15, "reset my": 16,
}  # fmt: skip
ROW_3 = {3: 0.636131, 4: 0.47654, 6: 0.47654, 13: 0.375709}  # "invoice invoice refund"
ROW_1 = {0: 0.380865, 1: 0.380865, 2: 0.380865, 7: 0.243101, 9: 0.300278, 10: 0.300278}


def test_tfidf_matches_sklearn_vocabulary_idf_and_weights() -> None:
    tfidf = WordTfidf()
    rows = tfidf.fit_transform(TEXTS).toarray()
    assert tfidf.vocabulary_ == VOCABULARY
    assert np.allclose(tfidf.idf_[[0, 3, 7]], [1.916291, 1.510826, 1.223144], atol=1e-6)
    for row, expected in ((3, ROW_3), (1, ROW_1)):
        for column, value in expected.items():
            assert abs(rows[row, column] - value) < 1e-5
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0)
    unseen = tfidf.transform(["reset invoice zebra", "zebra"]).toarray()
    assert np.allclose(unseen[0, [3, 15]], 0.707107) and unseen[0].sum() < 1.4143
    assert not unseen[1].any()  # nothing known: an empty row, not NaN


def test_sparse_rows_products_match_dense() -> None:
    rng = np.random.default_rng(0)
    dense = rng.random((300, 40)) * (rng.random((300, 40)) < 0.1)
    dense[[5, 6, 299]] = 0.0  # empty rows, one of them last
    rows, cols = np.nonzero(dense)
    matrix = SparseRows(
        dense[rows, cols], cols, np.r_[0, np.cumsum(np.bincount(rows, minlength=300))], (300, 40)
    )
    other = rng.random((40, 7))
    assert np.allclose(matrix @ other, dense @ other)
    assert np.allclose(matrix @ other[:, 0], dense @ other[:, 0])
    back = rng.random((300, 3))
    assert np.allclose(matrix.T @ back, dense.T @ back)
    assert np.allclose(matrix.take_rows(np.array([7, 5, 0])).toarray(), dense[[7, 5, 0]])


def _problem() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.RandomState(3)
    features = rng.normal(size=(60, 4))
    binary = (features @ [1.0, -2, 0.5, 0] + rng.normal(size=60) > 0).astype(int)
    three = np.argmax(features[:, :3] + rng.normal(scale=0.5, size=(60, 3)), 1)
    return features, binary, three


def test_binary_logistic_regression_matches_sklearn() -> None:
    features, binary, _ = _problem()
    weight, bias = fit_logistic(features, binary, 2, 1.0)
    assert not weight[0].any() and bias[0] == 0  # one sigmoid, laid out as softmax([0, z])
    assert np.allclose(weight[1], [1.279343, -2.179657, 0.744201, 0.190443], atol=1e-3)
    assert abs(bias[1] - 0.148522) < 1e-3


def test_multinomial_logistic_regression_matches_sklearn() -> None:
    features, _, three = _problem()
    weight, bias = fit_logistic(features, three, 3, 1.0)
    expected = [
        [1.394467, -1.119351, -0.920191, 0.064679],
        [-0.782632, 1.808743, -0.283251, -0.043911],
        [-0.611835, -0.689392, 1.203442, -0.020767],
    ]
    assert np.allclose(weight, expected, atol=1e-3)
    assert np.allclose(bias, [-0.006647, -0.069798, 0.076445], atol=1e-3)
    sparse = SparseRows(features.ravel(), np.tile(np.arange(4), 60), np.arange(0, 241, 4), (60, 4))
    assert np.allclose(fit_logistic(sparse, three, 3, 1.0)[0], expected, atol=1e-3)


def test_labels_missing_from_the_fold_keep_zero_weights() -> None:
    features, _, three = _problem()
    weight, bias = fit_logistic(features, three * 2, 5, 1.0)  # labels 0, 2, 4 of five
    assert not weight[[1, 3]].any() and not bias[[1, 3]].any()
    assert weight[[0, 2, 4]].any()


def test_stratified_folds_are_sklearns() -> None:
    y = np.array([2, 0, 1, 1, 0, 2, 2, 1, 0, 0, 1, 2, 1, 0, 2, 1])
    folds = list(stratified_folds(y, 3, seed=0))
    assert [test.tolist() for _, test in folds] == [
        [1, 2, 5, 6, 8, 10],
        [0, 3, 4, 11, 12],
        [7, 9, 13, 14, 15],
    ]
    for train, test in folds:
        assert sorted(train.tolist() + test.tolist()) == list(range(len(y)))
