"""Track the modality gap inside other libraries' training loops (optional extra).

``pip install 'gaplab[integrations]'`` (with torch pinned). One module per library, each
imported on its own so that only the library you use must be installed:

* :mod:`gaplab.integrations.transformers`: ``GapCallback`` for the Hugging Face ``Trainer``;
* :mod:`gaplab.integrations.lightning`: ``GapCallback`` for the Lightning ``Trainer``;
* :mod:`gaplab.integrations.torchmetrics`: ``ModalityGap``, a torchmetrics ``Metric``.

For a plain training loop (e.g. open_clip's) no extra is needed: use :class:`gaplab.GapTracker`.
Importing this package imports none of those libraries.
"""

from __future__ import annotations

__all__: list[str] = []
