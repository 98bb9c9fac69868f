"""Strip puzzle: find the cuts in an image of shuffled strips and restore their order.

An image was cut into ``N`` strips (vertical by default), the strips were shuffled and put
back side by side.  :func:`reassemble` finds where the strips meet (the *cuts*) and the
order that puts them back.

The stages, one module each:

=============== ================================================================
``checks``      argument validation
``model``       the image as float64 columns; JPEG detection and the noise model
``kernels``     Numba kernels of the seam statistic (log of running products)
``costs``       seam costs of strip pairs, the seam cache, the normalisation
``boundaries``  seam score of every column boundary and its local baseline
``order``       shortest Hamiltonian path: Held-Karp, branch and bound, or-opt
``candidates``  candidate cuts: equal widths, peaks, over-segmentation,
                better partners, twin columns
``jumps``       the column-jump statistic and the plain jump detector
``correlation`` the correlation of two columns' fine texture
``quality``     a candidate cut set ordered and its restored image scored
``search``      the best candidate cut set (or the given cuts)
``grow``        cuts added, shifted and revisited while the image improves
``sweep``       last: every boundary with a better partner tried as a cut, and
                the order solved for the quality itself
``result``      :class:`StripsResult`
``restore``     :func:`reassemble`: all of the above, and the restored image
=============== ================================================================

Method
------
*Seam cost.*  For a left strip ``i`` and a right strip ``j`` the cost of the seam
``i | j`` is the Mahalanobis gradient compatibility (MGC) of Gallagher (CVPR 2012, eq. 1-3):
the gradient across the seam, ``g_r = first_col(j)_r - last_col(i)_r`` (one ``C``-vector per
row ``r``), is compared with the gradients just inside each strip (last two columns of
``i``, first two of ``j``)::

    d_r = (g_r - p_r)^T S^{-1} (g_r - p_r)

where the prediction ``p_r`` mixes the edge's mean gradient and the same row's inner gradient
(``p_r = mu + a (G_r - mu)``; the per-row term is the prediction-based idea of Pomeranz et al.,
CVPR 2011) and ``S`` is the covariance of the residual along the edge (regularised by the
image's quantisation step).  Rows are combined robustly, ``sum_r log(1 + d_r / C)``, so a
natural vertical edge that crosses a few rows does not look like a cut; both directions
(``i`` predicting ``j`` and ``j`` predicting ``i``) are added.  The matrix is then
normalised per strip, best-buddy style (Paikin & Tal, CVPR 2015): each cost is divided by
the geometric mean of the second-smallest cost of its row and of its column.  All pairs are
evaluated at once with matrix products (:func:`_whitened_sq`).

*JPEG.*  An image whose 8x8 DCT coefficients are quantised on the pixel grid
(:func:`_blockiness`) gets a noise model with a covariance floor of
:data:`_JPEG_FLOOR` grey levels and no per-row prediction (:func:`_noise_model`): the
ringing that compression leaves at each cut would otherwise make wrong seams look as good
as the true ones.  A colour JPEG is compared on its luma only: the chroma, stored at half
resolution, carries each strip's shuffled neighbour's colour across the cut.

*Order.*  The restored order is the shortest Hamiltonian path of the directed cost
matrix (an asymmetric travelling-salesman tour through an extra zero-cost node).  Up to
:data:`_DP_MAX` strips it is solved exactly by Held-Karp dynamic programming.  Beyond, a
branch and bound on the assignment-problem relaxation (Carpaneto & Toth 1980; assignment
by ``scipy.optimize.linear_sum_assignment``) with sub-tour patching and or-opt local
search for the upper bound; when the search finishes the order is proven optimal,
otherwise the relative gap to the best lower bound is reported.

*Cuts.*  Every column boundary gets the same seam score as a pair of strips would
(normalised so that a natural boundary scores about 1).  Candidate cut sets are
(a) near-equal widths for each strip count (widths ``q`` or ``q + 1`` in any order, chosen
by dynamic programming on the scores), which finds cuts that look continuous from the
period alone, (b) boundaries whose score stands out, and (c) an over-segmentation at every
boundary that stands out a little from its neighbourhood (:func:`_over_segment`): ordering
its pieces puts the natural edges back side by side, and the cuts whose pieces stay
together are dropped.  Each candidate is ordered and the one whose restored image is most
natural wins (:func:`_quality`, a joint search of cuts and order); cuts are then added one
by one while the restored image improves (:func:`_grow`), first the boundaries where a
*better partner exists* (:func:`_partner_scores`: the piece before the boundary continues
into the start of another piece, or the piece after it out of another's end, much better
than across the boundary itself), which finds cuts that do not stand out in a texture;
then pairs of the cuts tried and not kept, and each of them with the strong column jumps
not cut (:func:`_add_pairs`): a piece moves only when both its ends are cut.
The quality also charges each moved cut whose median column jump does not stand out
(:func:`_quality`, ``jump``): a true cut joins unrelated columns in every row, a natural
edge (a text line) only in some.  It charges each restored seam whose two pieces were
not side by side in the shuffled image for the step of the background level across it,
beyond the local illumination trend (:class:`.jumps._SeamOffsets`): a right seam joins
columns that were neighbours; the step is taken over each third of the seam's length
(the illumination of a page varies in 2-D), and at the end the runs of pieces between
such seams are re-ordered by the quality (:func:`.grow._reorder_blocks`), which the seam
costs of the order do not see.  Each such seam also adds the log of ``1 - rho`` of the
correlation of its two columns' fine texture (high-passed along the seam,
:class:`.correlation._TextureCorrelation`), and each cut whose pieces are separated takes back
the same of its own boundary: columns that were neighbours share their grain, unrelated places
do not, however well their levels agree (two blank margins of a page).  No two adjacent
boundaries are both peak cuts (a 1-pixel piece has no gradient statistics of its own).
Boundary scores are judged against their neighbourhood (:func:`_baseline`), parity-free in
a 2-pixel periodic texture.  At the end the cuts with a weak column jump are revisited, dropped or moved by a pixel onto a stronger jump
(:func:`_refine_weak`).  In an image upsampled by repeating columns, a column without its
twin proves a cut beside it (:func:`_twin_cuts`).  Last, where the start was not a
near-equal-widths candidate, every boundary with a better partner (against the pieces
found) is tried as a cut and the best kept, until none improves; and the pieces are
ordered by the quality's own terms (:func:`.sweep._sweep`).

*Speed.*  The seam statistic is summed by Numba kernels (:func:`_rho_pair_sums`,
:func:`_boundary_terms`; the log of running products, not one log per row); the gradient
statistics of every column are computed once (:func:`_grad_whitening`) and shared by the
boundary scores, the seam cache and the partner scores.  A seam cost depends only on the
two columns at each side, so the costs are kept by edge position for the whole search
(:class:`_SeamCache`): each candidate only computes the pairs of its new edges.
"""

from .restore import reassemble
from .result import StripsResult

__all__ = ["StripsResult", "reassemble"]
