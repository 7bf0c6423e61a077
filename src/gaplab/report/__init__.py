"""Show: a self-contained HTML (or Markdown) report with the figures people want to look at."""

from .builder import (
    Report,
    Section,
    Strong,
    Table,
    build_report,
    collect,
    render_html,
    render_markdown,
)
from .plots import cosine_histograms, dimension_bars, embedding_2d, modality_matrix, training_curves

__all__ = [
    "build_report", "collect", "render_html", "render_markdown", "Report", "Section", "Strong", "Table",
    "cosine_histograms", "embedding_2d", "dimension_bars", "training_curves", "modality_matrix",
]
