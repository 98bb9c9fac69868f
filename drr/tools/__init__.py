"""Secondary CPU tools, independent of the renderer.  Import the module you need
(they need the optional ``tools`` extra: SciPy and Matplotlib)::

    from drr.tools.strips import reassemble           # shuffled image strips -> cuts and order
    from drr.tools.outline import outline_path, plot_outline   # exact pixel-edge outlines of labels
    from drr.tools.peaks import find_peaks, cluster_center     # robust sub-pixel peaks
    from drr.tools.colormap import invert_colormap, find_colorbar, identify_colormap
"""
