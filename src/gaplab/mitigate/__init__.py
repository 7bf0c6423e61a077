"""Post-hoc mitigations of the modality gap as fit/transform objects (scikit-learn contract).

>>> from gaplab.mitigate import get_mitigation
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x, y = rng.normal(size=(50, 8)) + 2, rng.normal(size=(50, 8)) - 2
>>> m = get_mitigation("center")().fit(x, y)
>>> x2, y2 = m.transform_image(x), m.transform_text(y)
>>> x2.shape
(50, 8)

Methods (:func:`list_mitigations`): embedding-level ``center``, ``gap-shift``,
``remove-dims``, ``procrustes``, ``noise``, ``multi-mean``, ``i0t``, ``realign``,
``orthogonal-shift``, ``c3``, ``ot``; score-level (hubness) ``csls``, ``qb-norm``, ``db-norm``,
which re-score through :meth:`Mitigation.similarity` instead of moving embeddings.

The held-out protocol: :func:`compare` / :func:`evaluate` split the pairs by image
(:func:`split_pairs`), fit each method on the train split only and report gap and task
metrics (:data:`ROW_KEYS`) on the test split. :func:`run_mitigation` is what ``gaplab
mitigate`` does (in-sample or held out, from method names and ``NAME=VALUE`` parameters) and
:func:`write_mitigated` writes the transformed pairs file. Imports numpy/scipy (and
scikit-learn when a metric needs it) only, never torch.
"""

from __future__ import annotations

from . import centering as _centering  # noqa: F401  (registers)
from . import dims as _dims  # noqa: F401
from . import hubness as _hubness  # noqa: F401
from . import procrustes as _procrustes  # noqa: F401
from . import shift as _shift  # noqa: F401
from . import zoo as _zoo  # noqa: F401
from .base import (
    MITIGATIONS,
    Mitigation,
    clone,
    create_mitigation,
    get_mitigation,
    list_mitigations,
    load_mitigation,
    register_mitigation,
)
from .calibrate import CALIBRATION_METHODS, Calibrator, calibrate_pairs, load_calibrator
from .centering import Center, MultiMean, Noise
from .dims import RemoveDims
from .evaluate import (
    GAP_KEYS,
    ROW_KEYS,
    TABLE_KEYS,
    Split,
    compare,
    evaluate,
    published_table,
    split_pairs,
)
from .hubness import CSLS, DBNorm, QBNorm
from .pipeline import MitigationResult, resolve_mitigations, run_mitigation, write_mitigated
from .procrustes import Procrustes
from .shift import GapShift
from .zoo import C3, I0T, OrthogonalShift, OTMap, ReAlign

__all__ = [
    "Mitigation", "MITIGATIONS", "register_mitigation", "list_mitigations", "get_mitigation",
    "create_mitigation", "clone", "load_mitigation",
    "Center", "GapShift", "RemoveDims", "Procrustes", "Noise", "MultiMean",
    "CSLS", "QBNorm", "DBNorm", "I0T", "ReAlign", "OrthogonalShift", "C3", "OTMap",
    "compare", "evaluate", "split_pairs", "Split", "ROW_KEYS", "GAP_KEYS", "TABLE_KEYS", "published_table",
    "run_mitigation", "write_mitigated", "resolve_mitigations", "MitigationResult",
    "Calibrator", "calibrate_pairs", "load_calibrator", "CALIBRATION_METHODS",
]
