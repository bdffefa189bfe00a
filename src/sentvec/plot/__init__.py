"""Pictures of embeddings: a similarity heatmap, a 2-D corpus map, STS scatter, training curves, recall
against memory per vector.

    from sentvec import SentenceTransformer
    from sentvec.plot import similarity_heatmap

    model = SentenceTransformer("all-MiniLM-L6-v2")
    figure = similarity_heatmap(["A man is eating.", "Someone eats food.", "A cat sleeps."], model=model,
                                path="similarity.png")

Every function returns a matplotlib :class:`~matplotlib.figure.Figure` (drawn with the object API on an
Agg canvas: no display needed, pyplot's global state untouched) and, given ``path``, also writes it: PNG
for ``.png``, SVG for ``.svg``; :func:`corpus_map` writes interactive HTML for ``.html`` (needs plotly).
Files are written to a temporary file in the same folder and moved into place, so a crash never leaves
half a picture. Needs the ``[plot]`` extra (matplotlib); plotly and umap-learn are used when installed.

One module per kind of picture (``heatmap``, ``corpus``, ``sts``, ``training``, ``recall``); what they
share is in ``figure`` (new figure, path checks, atomic save) and ``fonts`` (CJK labels).
"""

from sentvec.plot.corpus import corpus_map, project_2d

# save_figure, similarity_figure and the constants are importable as before (evaluation.plot uses them),
# not in __all__
from sentvec.plot.figure import IMAGE_FORMATS as IMAGE_FORMATS
from sentvec.plot.figure import save_figure as save_figure
from sentvec.plot.fonts import NO_CJK_FONT as NO_CJK_FONT
from sentvec.plot.fonts import find_cjk_font
from sentvec.plot.heatmap import similarity_heatmap
from sentvec.plot.recall import recall_memory
from sentvec.plot.sts import similarity_figure as similarity_figure
from sentvec.plot.sts import sts_scatter
from sentvec.plot.training import read_training_log, training_curves

__all__ = [
    "corpus_map",
    "find_cjk_font",
    "project_2d",
    "read_training_log",
    "recall_memory",
    "similarity_heatmap",
    "sts_scatter",
    "training_curves",
]
