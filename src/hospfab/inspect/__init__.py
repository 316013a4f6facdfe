"""Inspection of a printed part against its reference model, from a 3D scan.

- :mod:`hospfab.inspect.scan`: reading scans and reference meshes (STL, PLY, OBJ; meshes or point clouds).
- :mod:`hospfab.inspect.distance`: exact signed point-to-triangle distances.
- :mod:`hospfab.inspect.align`: global registration independent of the starting pose, then ICP.
- :mod:`hospfab.inspect.measure`: figures (RMS, mean, p95, max, share within tolerance, coverage, scale) and
  the verdict with its findings (out of tolerance, low coverage, scale, mirrored, different part).
- :mod:`hospfab.inspect.heatmap`, :mod:`hospfab.inspect.report`: PNG heat map and HTML report.
- :mod:`hospfab.inspect.run`: one inspection from files (reference from the catalog or a mesh file).
- :mod:`hospfab.inspect.tolerances`: every threshold, and the accessor of the acceptance criteria.
"""
