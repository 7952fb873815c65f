"""The AU-DFER method (the paper's contribution), independent of the model.

knowledge   the AU-expression knowledge matrix K: presets (the paper's
            Figure 4, upstream tables), JSON load and save.
extraction  K from OpenFace AU intensities (section 3.1), in numpy.
__main__    its command line: `python -m audfer_jax.method`.
pos_weight  the AU loss's pos_weight strategies (eqs. 6-8) and presets.
loss        the combined loss (eqs. 9-10).
objective   `build_objective`: K and pos_weight for a config and dataset,
            what the trainer calls.
"""
